"""The "Adapt to your site (no labels)" page, driven headless by AppTest on the cheaper
model: unlabelled uploads -> the adapted profile, what changed (each changed call opening its
case), where the call sits, what the validation study expects, the drift alarm before and
after, and the profile handed to the sidebar. The operating-point method's branches (a fitted
threshold that moves calls, one that moves none, the model's own kept) are forced by a fit
that returns a chosen threshold: the page's words are what is tested, against the numbers
of the batch it scored."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_app, run_cli

from pneumo_core.adaptation.method import MIN_FILMS
from pneumo_core.app.site import adapt_flow

MODEL = "paper_cnn"


@pytest.fixture(scope="module")
def unlabelled():
    films = sorted((REPO / "data/test/NORMAL").glob("*.jpeg"))[:70] + sorted((REPO / "data/test/PNEUMONIA").glob("*.jpeg"))[:40]
    return [(f"site-{i:03d}.jpeg", f.read_bytes(), "image/jpeg") for i, f in enumerate(films)]


@pytest.fixture(scope="module")
def adapted_page(unlabelled):
    at = run_app("pages/adapt_site.py", model=MODEL)
    at.file_uploader(key="adapt_uploads").set_value(unlabelled).run()
    at.button(key="adapt_page_go").click().run()
    return at


def test_too_few_films_say_how_many_are_needed_and_offer_no_button():
    at = run_app("pages/adapt_site.py", model=MODEL)
    assert not at.exception
    assert any(f"at least {MIN_FILMS} are needed" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "adapt_page_go"]


def test_adapting_shows_the_profile_and_the_drift_alarm_before_and_after(adapted_page):
    at = adapted_page
    assert not at.exception and not at.error, [e.value for e in at.exception]
    summary = "\n".join(t.value for t in at.text)
    assert "unlabelled films" in summary and "Estimated pneumonia prevalence" in summary
    verdicts = [m.value for m in (*at.success, *at.warning, *at.info)]
    assert any(v.startswith("Before adapting:") for v in verdicts) and any(v.startswith("After adapting:") for v in verdicts)
    assert "site-0" not in summary  # no file name in what the profile says


def test_the_adapted_profile_can_be_used_in_this_session(adapted_page):
    at = adapted_page
    at.button(key="adapt_use").click().run()
    assert not at.exception
    assert at.session_state["calibration"].startswith("session:my site@")
    assert any("In use in this session: adapted to my site" in s.value for s in at.success)


def test_a_drift_alarm_on_diagnose_offers_to_adapt_and_the_alarm_runs_again_on_the_adapted_model(
        unlabelled, monkeypatch):
    """The alarm is forced to fire (the batch is the test split's own films); what is tested
    is the offer, the hand-over to the sidebar and the second verdict on the adapted model."""
    from pneumo_core.app.reading import scoring
    seen = []

    def alarm(model, results, site):
        seen.append(site)
        return scoring.DriftVerdict("Shifted (forced by the test).", True, len(results))

    monkeypatch.setattr(scoring, "batch_drift", alarm)
    at = run_app(model=MODEL)
    at.file_uploader(key="uploads").set_value(unlabelled).run()
    assert not at.exception, [e.value for e in at.exception]
    assert seen[-1] is None
    at.button(key="adapt_site_offer").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("Adapted on") for s in at.success)
    assert seen[-1] is not None and seen[-1].adaptation  # the alarm ran again, under the adapted profile
    assert at.session_state["calibration"].startswith("session:my site@")
    assert not [b for b in at.button if b.key == "adapt_site_offer"]  # no second offer under an adapted profile


def test_under_an_adapted_profile_the_evaluation_pages_show_the_model_as_shipped_and_say_why():
    """Recalibrating the source probabilities by a profile that re-estimated the network's
    normalisation would show a model that does not exist: the pages keep the shipped
    evaluation and say so. A profile that moved only the threshold leaves the network as it
    is, so the same scores are recalibrated by it."""
    from dataclasses import replace

    from pneumo_core.app.review.evaluation_view import evaluation_view
    from pneumo_core.app.runtime.resources import eval_report
    from pneumo_core.calibration.site import resolve_profile
    labelled = resolve_profile("kermany-test", REPO / "weights" / "efficientnet_lite0")
    section = {"films": 120, "estimated_prevalence": 0.3}
    network = replace(labelled, name="north", adaptation={**section, "layers": {"_bn1": {"mean": [0.0], "var": [1.0]}}})
    view = evaluation_view("efficientnet_lite0", network)
    assert not view.is_site and view.evaluation == eval_report("efficientnet_lite0")
    assert "adapts the network itself" in view.how
    threshold_only = replace(labelled, name="south", files_sha256="0" * 64, adaptation={**section, "layers": {}})
    moved = evaluation_view("efficientnet_lite0", threshold_only)
    assert moved.is_site and moved.evaluation != eval_report("efficientnet_lite0") and not moved.out_of_fold
    assert evaluation_view("efficientnet_lite0", labelled).is_site  # a labelled profile still recalibrates


# --- what changed, where the call sits, what to expect, the alarm: each branch ---------------

FORCED = "scores-shift-class"
FALLBACK = "the site's scores do not separate into two groups"


def _plain(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _markdown(at) -> list[str]:
    return [_plain(m.value) for m in at.markdown]


def _open_buttons(at) -> list:
    return [b for b in at.button if b.key and b.key.startswith("adapt_page_open_")]


def _study_record(folder: Path) -> dict:
    """A validation record of the study's shape, with means the page must repeat."""
    def row(sens, spec):
        return {"sensitivity": {"mean": sens}, "specificity": {"mean": spec}}
    record = {"summary": {sh: {p: {"none": row(0.97, 0.55), FORCED: row(s_, 0.86)} for p in ("0.1", "0.5", "0.9")}
                          for sh, s_ in (("clean", 0.95), ("noise", 0.91))},
              "prevalences": [0.1, 0.5, 0.9], "draws": 20, "chosen": FORCED}
    (folder / "adapt_study_val.json").write_text(json.dumps(record))
    return record


@pytest.fixture(scope="module", params=[0.7, 0.0, "fallback"], ids=["moves-calls", "moves-none", "fallback"])
def forced(request, unlabelled, tmp_path_factory):
    """The page after adapting with the operating-point method, its fit forced to move the
    model's threshold by `param` logits (or to fall back). Returns (page, move, stored)."""
    from pneumo_core.adaptation.score_mixture import MixtureFit, mixture_named
    from pneumo_core.inference import site_adaptation
    move = request.param
    study = tmp_path_factory.mktemp("study")
    _study_record(study)

    def fit(scores, source, method, *, source_threshold, source_prevalence):
        if move == "fallback":
            return MixtureFit(source_threshold, 0.4, FALLBACK, float("nan"), float("nan"), {})
        return MixtureFit(source_threshold + move, 0.4, None, 0.93, 0.88, {})

    at = run_app("pages/adapt_site.py", model=MODEL)
    at.file_uploader(key="adapt_uploads").set_value(unlabelled).run()
    with pytest.MonkeyPatch.context() as mp:  # for the adapting run only: nothing leaks into other tests
        mp.setattr(site_adaptation, "DEFAULT_MIXTURE", mixture_named(FORCED))
        mp.setattr(site_adaptation, "load_source_scores", lambda directory: None)
        mp.setattr(site_adaptation, "fit_operating_point", fit)
        mp.setattr(adapt_flow, "resolve_model_dir", lambda model: study)
        at.button(key="adapt_page_go").click().run()
    return at, move, at.session_state[adapt_flow.PAGE]


def test_the_number_of_changed_calls_is_the_films_between_the_two_thresholds_and_each_has_its_entry(forced):
    at, move, stored = forced
    assert not at.exception and not at.error, [e.value for e in at.exception]
    p = stored.outcome.profile
    t0, t1 = p.adaptation["source_threshold_logit"], p.adaptation["threshold_logit"]
    logits = np.array([r.logit for r in stored.after if r.ok])
    expected = int(((logits >= t0) != (logits >= t1)).sum())
    if move == 0.7:
        assert expected > 0  # the batch has films between the two thresholds: the branch is reached
    sentence = next(m for m in _markdown(at) if "operating point" in m and ("changed" in m))
    buttons = _open_buttons(at)
    assert len(buttons) == expected
    if expected:
        n, of = map(int, re.match(r"(\d+) of (\d+) calls changed", sentence).groups())
        assert (n, of) == (expected, len(logits))
        assert f"{expected} now NORMAL" in sentence and "0 now PNEUMONIA" in sentence  # a higher threshold
        names = {stored.after[int(b.key.rsplit("_", 1)[1])].name for b in buttons}
        assert all(_plain(b.label).startswith(tuple(names)) and "PNEUMONIA → NORMAL" in b.label for b in buttons)
    else:
        assert sentence.startswith("No call changed") and f"all {len(logits)} films keep" in sentence


def test_the_threshold_sentence_says_the_fitted_threshold_or_that_the_models_own_was_kept(forced):
    at, move, stored = forced
    p = stored.outcome.profile
    text = next(m for m in _markdown(at) if "P(pneumonia) ≥" in m)
    here = float(re.search(r"P\(pneumonia\) ≥ (\d\.\d+)", text).group(1))
    assert here == pytest.approx(p.thresholds["balanced"], abs=5e-4)
    source = 1 / (1 + np.exp(-p.adaptation["source_threshold_logit"]))
    if move == "fallback":
        assert text.startswith("The threshold was kept at the model's own") and FALLBACK in text
        assert float(re.search(r"\((\d\.\d+) on the model's own", text).group(1)) == pytest.approx(source, abs=5e-4)
    else:
        now, was = map(float, re.search(r"reaches (\d\.\d+) \(it was (\d\.\d+)\)", text).groups())
        assert now == pytest.approx(1 / (1 + np.exp(-p.adaptation["threshold_logit"])), abs=5e-4)
        assert was == pytest.approx(source, abs=5e-4)


def test_what_to_expect_is_the_validation_studys_and_named_as_such(forced):
    at, move, _ = forced
    text = next(m for m in _markdown(at) if m.startswith(("What to expect", "The calls are the model's own")))
    assert "under simulated site shifts (2 conditions)" in text and "not your site" in text
    if move == "fallback":
        assert "the model's own threshold kept sensitivity 0.97 and specificity 0.55" in text
    else:
        assert "this method kept sensitivity 0.93 and specificity 0.86" in text  # (0.95 + 0.91) / 2
        assert "lowest over the conditions: sensitivity 0.91, specificity 0.86" in text
    guess = [_plain(c.value) for c in at.caption if "not a measurement" in c.value]
    assert guess == ([] if move == "fallback" else [guess[0]])
    if guess:
        assert "sensitivity near 0.93 and specificity near 0.88" in guess[0]


def test_the_drift_alarm_after_is_the_one_before_and_the_page_says_moving_the_threshold_cannot_clear_it(forced):
    at, _, stored = forced
    before, after = stored.shifted
    assert before == after  # the features do not move with the threshold
    said = [_plain(x.value) for x in (*at.warning, *at.info) if "was run again on the adapted model" in x.value]
    assert len(said) == 1
    assert ("it still fires" if after else "it still does not fire") in said[0]
    assert "Calibrate for your site" in said[0]
    assert ("neither the films' features nor the calls changed" if stored.outcome.profile.adaptation["fallback"]
            else "does not change the features") in said[0]


def test_a_changed_call_opens_its_case_under_the_adapted_profile(forced):
    at, move, stored = forced
    buttons = _open_buttons(at)
    if not buttons:
        assert move != 0.7
        return
    button = buttons[0]
    case = stored.after[int(button.key.rsplit("_", 1)[1])]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == "Case, on the adapted profile" for h in at.subheader)
    assert case.name in [t.value for t in at.text]
    threshold = stored.outcome.profile.thresholds["balanced"]
    assert any(f"NORMAL at threshold {threshold:.3f}" in m.value for m in at.markdown)


def test_the_pages_words_carry_no_method_jargon(forced):
    """The page's own sentences (the sidebar names the model's rules; the method is the model card's)."""
    at, _, _ = forced
    shown = "\n".join(_plain(e.value) for e in (*at.main.markdown, *at.main.caption, *at.main.info, *at.main.warning))
    for jargon in ("EM posteriors", "normalisation layers", "Youden"):
        assert jargon not in shown


def test_the_apps_changed_calls_are_the_command_lines_on_the_same_batch(adapted_page, unlabelled, tmp_path):
    """The shipped method, no forcing: the page's list against `adapt-site`'s on the same films."""
    folder = tmp_path / "site"
    folder.mkdir()
    for name, data, _ in unlabelled:
        (folder / name).write_bytes(data)
    r = run_cli("adapt-site", "--model", MODEL, "--out", str(tmp_path / "p.json"), "--quiet", str(folder))
    assert r.returncode == 0, r.stderr
    cli = sorted(Path(c["file"]).name for c in json.loads(r.stdout)["changed"])
    stored = adapted_page.session_state[adapt_flow.PAGE]
    app = sorted(stored.after[int(b.key.rsplit("_", 1)[1])].name for b in _open_buttons(adapted_page))
    assert app == cli
    assert adapt_flow.what_changed(stored.outcome, stored.after).compared == json.loads(r.stdout)["films"]


def test_on_diagnose_a_changed_call_opens_that_case_in_the_reading_room_and_the_banner_says_no_labels(
        unlabelled, monkeypatch):
    """The offer under a (forced) alarm, with the operating-point method forced to move calls:
    an entry of the list becomes the reading room's case (its own selection), and the banner
    says how the probabilities were made."""
    from pneumo_core.adaptation.score_mixture import MixtureFit, mixture_named
    from pneumo_core.app.reading import scoring
    from pneumo_core.inference import site_adaptation
    monkeypatch.setattr(site_adaptation, "DEFAULT_MIXTURE", mixture_named(FORCED))
    monkeypatch.setattr(site_adaptation, "load_source_scores", lambda directory: None)
    monkeypatch.setattr(site_adaptation, "fit_operating_point", lambda scores, source, method, *, source_threshold,
                        source_prevalence: MixtureFit(source_threshold + 0.7, 0.4, None, 0.93, 0.88, {}))
    monkeypatch.setattr(scoring, "batch_drift", lambda model, results, site: scoring.DriftVerdict(
        "Shifted (forced by the test).", True, len(results)))
    at = run_app(model=MODEL)
    at.file_uploader(key="uploads").set_value(unlabelled).run()
    at.button(key="adapt_site_offer").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "without labels" in at.info[0].value and "labelled sample" not in at.info[0].value
    said = [_plain(w.value) for w in at.warning if "was run again" in w.value]
    assert len(said) == 1 and "The drift alarm (above) was run again on the adapted model: it still fires" in said[0]
    entries = [b for b in at.button if b.key and b.key.startswith("adapt_open_")]
    assert entries
    index = int(entries[-1].key.rsplit("_", 1)[1])
    name = _plain(entries[-1].label).split(": ")[0]
    entries[-1].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="case_list").value == index
    assert name in [t.value for t in at.text]  # the case shown is the entry's film
    assert [b for b in at.button if b.key and b.key.startswith("adapt_open_")]  # the list stays for the next one
