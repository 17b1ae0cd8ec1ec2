"""The "Adapt to your site (no labels)" page, driven headless by AppTest on the cheaper
model: unlabelled uploads -> the adapted profile, the drift alarm before and after, and the
profile handed to the sidebar."""
from __future__ import annotations

import pytest
from conftest import REPO, run_app

from pneumo_core.adaptation.method import MIN_FILMS

MODEL = "paper_cnn"


@pytest.fixture(scope="module")
def unlabelled():
    films = sorted((REPO / "data/test/NORMAL").glob("*.jpeg"))[:70] + sorted((REPO / "data/test/PNEUMONIA").glob("*.jpeg"))[:40]
    return [(f"site-{i:03d}.jpeg", f.read_bytes(), "image/jpeg") for i, f in enumerate(films)]


@pytest.fixture(scope="module")
def adapted_page(unlabelled):
    at = run_app("views/adapt_site.py", model=MODEL)
    at.file_uploader(key="adapt_uploads").set_value(unlabelled).run()
    at.button(key="adapt_page_go").click().run()
    return at


def test_too_few_films_say_how_many_are_needed_and_offer_no_button():
    at = run_app("views/adapt_site.py", model=MODEL)
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
    """Recalibrating the source probabilities by an adapted profile's intercept would show a
    model that does not exist: the pages keep the shipped evaluation and say so."""
    from dataclasses import replace

    from pneumo_core.app.review.evaluation_view import evaluation_view
    from pneumo_core.app.runtime.resources import eval_report
    from pneumo_core.calibration.site import resolve_profile
    labelled = resolve_profile("kermany-test", REPO / "weights" / "efficientnet_lite0")
    adapted = replace(labelled, name="north", adaptation={"films": 120, "estimated_prevalence": 0.3, "layers": {}})
    view = evaluation_view("efficientnet_lite0", adapted)
    assert not view.is_site and view.ev == eval_report("efficientnet_lite0")
    assert "adapts the network itself" in view.how
    assert evaluation_view("efficientnet_lite0", labelled).is_site  # a labelled profile still recalibrates
