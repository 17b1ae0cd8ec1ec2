"""The sidebar's calibration choice (source or a site profile) and what it changes downstream,
driven headless by `streamlit.testing.v1.AppTest`, plus the pure helpers behind it.

Each test name says the failure it guards against. The profiles are fitted here, in a
temporary folder, on the shipped eval_test.json's probabilities (nothing is written into
weights/); "test-site" is injected among the shipped profiles of each model.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pneumo_core.app.settings import calibration_choice, operating_point, sidebar
from pneumo_core.app.reading import cases
from pneumo_core.app.review import eval_views
from pneumo_core.app.review.evaluation_view import evaluation_view
from pneumo_core.app.runtime import formatting, paths, resources
from pneumo_core.calibration.recalibration import logit
from pneumo_core.calibration.site import build_site_profile, load_profile, save_profile

from conftest import APP_TIMEOUT as TIMEOUT, results_table, run_app
MODEL = paths.DEFAULT_MODEL
OTHER = next(m for m in paths.list_models() if m != MODEL)


def _fit(model: str, name: str, every: int, out: Path) -> Path:
    """A profile fitted on every `every`-th test film (every=1: the whole split, hashed by
    keys relative to the split folder, as `calibrate-site data/test` does)."""
    ev, meta = resources.eval_report(model), resources.model_meta(model)
    preds = ev["predictions"][::every]
    x = logit(np.array([p["probability"] for p in preds]))
    y = np.array([p["label"] == "PNEUMONIA" for p in preds], int)
    profile = build_site_profile(x, y, [p["patient"] for p in preds], [p["file"].split("/", 1)[1] for p in preds],
                                 name=name, model=model, model_sha256=meta.model_sha256, n_boot=50)
    return save_profile(profile, out / model / f"{name}.json")


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("sites")
    return {"test-site": _fit(MODEL, "test-site", 2, out), "other-weights": _fit(OTHER, "test-site", 2, out),
            "whole-split": _fit(MODEL, "whole-split", 1, out)}


@pytest.fixture(autouse=True)
def _app_env(monkeypatch, profiles):
    """Navigation as on a running server, and "test-site" shipped beside whatever each model
    really ships."""
    real = resources.shipped_site_files
    monkeypatch.setattr(calibration_choice, "shipped_site_files", lambda m: {
        **real(m), "test-site": profiles["test-site"] if m == MODEL else profiles["other-weights"]})


_app = run_app


def _plain(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


def test_sidebar_offers_source_shipped_and_this_sessions_profiles_of_these_weights_only(profiles):
    mine, theirs = load_profile(profiles["whole-split"]), load_profile(profiles["other-weights"])
    at = _app(session_profiles={sidebar.session_key(mine): mine, sidebar.session_key(theirs): theirs})
    assert not at.exception
    select = at.sidebar.selectbox(key="calibration")
    shipped = [f"{n} (shipped)" for n in {**resources.shipped_site_files(MODEL), "test-site": None}]
    assert select.value == "source" and select.options[0] == "source (validation data)"
    assert set(shipped) <= set(select.options) and "whole-split (this session)" in select.options
    assert len(select.options) == 1 + len(shipped) + 1  # the other weights' session profile is not offered


def test_choosing_a_site_profile_changes_the_probability_label_and_threshold_on_diagnose_without_rescoring(
        monkeypatch, profiles):
    from pneumo_core.inference.predictor import Predictor
    site = load_profile(profiles["test-site"])
    at = _app()
    at.button[0].click().run()  # the bundled examples
    assert not at.exception and at.metric
    source = at.session_state["settings"]
    assert {m.label for m in at.metric} == {"P(pneumonia), calibrated on validation data"}
    assert source.threshold == pytest.approx(resources.model_meta(MODEL).thresholds[source.operating_point])

    calls = []
    real = Predictor.predict_radiographs
    monkeypatch.setattr(Predictor, "predict_radiographs", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    at.sidebar.selectbox(key="calibration").set_value("shipped:test-site").run()
    assert not at.exception and not calls, "a calibration change must re-derive, not re-score"
    s = at.session_state["settings"]
    assert s.site is not None and s.site.name == "test-site"
    assert {m.label for m in at.metric} == {"P(pneumonia), calibrated for test-site"}
    assert s.threshold == pytest.approx(site.thresholds[s.operating_point]) != pytest.approx(source.threshold)
    assert at.session_state["threshold_slider"] == pytest.approx(round(site.thresholds[s.operating_point], 3))
    # the profile's recalibration written out, P = sigmoid(a + b * logit), on each example's source logit
    expected = [1 / (1 + np.exp(-(site.intercept + site.slope * r.logit))) for r in _scored_examples()]
    shown = [m.value for m in at.metric]  # the case(s) on screen, re-derived under the site's calibration
    assert shown and set(shown) <= {formatting.format_probability(p) for p in expected}
    assert [formatting.format_probability(p) for p in expected] != [
        formatting.format_probability(r.probability) for r in _scored_examples()]
    assert sorted(results_table(at).value["P(pneumonia)"]) == sorted(formatting.format_probability(p) for p in expected)
    batch = next(c.value for c in at.caption if " · threshold " in c.value)  # the results table's caption
    assert "calibrated for test-site" in batch
    assert set(results_table(at).value["calibration"]) == {"calibrated for test-site"}


def _scored_examples() -> list[cases.CaseResult]:
    from pneumo_core.app.reading import scoring
    return [scoring.score_file(MODEL, p.read_bytes(), p.name) for p in paths.example_files()]


def test_a_profile_for_other_weights_or_a_broken_file_shows_an_error_not_an_exception(profiles):
    at = _app()
    upload = at.sidebar.file_uploader(key="profile_upload")
    upload.set_value([("theirs.json", profiles["other-weights"].read_bytes(), "application/json")]).run()
    assert not at.exception
    assert at.sidebar.error and "was fitted for" in _plain(at.sidebar.error[0].value)
    assert at.session_state["settings"].site is None
    at.sidebar.file_uploader(key="profile_upload").set_value([("x.json", b"{not json", "application/json")]).run()
    assert not at.exception and "cannot read the site profile" in _plain(at.sidebar.error[0].value)
    at.sidebar.file_uploader(key="profile_upload").set_value(
        [("mine.json", profiles["whole-split"].read_bytes(), "application/json")]).run()
    assert not at.exception and not at.sidebar.error
    assert at.session_state["settings"].site.name == "whole-split"


def _page_using_a_profile(path: str) -> None:
    import streamlit as st

    from pneumo_core.app.settings import sidebar
    from pneumo_core.calibration.site import load_profile
    s = sidebar.sidebar()
    st.text(s.probability_label)
    if st.button("use in the page's body"):
        sidebar.use_profile(load_profile(path))
    st.button("use from a callback", on_click=sidebar.use_profile, args=(load_profile(path),))


@pytest.mark.parametrize("button", [0, 1])
@pytest.mark.parametrize("which", ["whole-split", "other-weights"])
def test_use_profile_from_a_page_selects_it_at_once_or_refuses_other_weights(profiles, which, button):
    at = AppTest.from_function(_page_using_a_profile, args=(str(profiles[which]),), default_timeout=TIMEOUT).run()
    at.button[button].click().run()
    assert not at.exception
    if which == "whole-split":
        assert at.text[0].value == "P(pneumonia), calibrated for whole-split"
        assert at.sidebar.selectbox(key="calibration").value.startswith("session:whole-split@")
    else:
        assert at.error and "other weights" in _plain(at.error[0].value)
        assert at.text[0].value == "P(pneumonia), calibrated on validation data"


@pytest.mark.parametrize("calibration,how", [("shipped:test-site", "recalibrated by this profile"),
                                             ("whole-split", eval_views.OUT_OF_FOLD_NOTE)])
def test_evaluation_under_a_site_profile_says_which_calibration_and_shows_its_numbers(profiles, calibration, how):
    state = {}
    if calibration == "whole-split":  # fitted on the whole test split: only the out-of-fold evaluation is honest
        site = load_profile(profiles["whole-split"])
        calibration = sidebar.session_key(site)
        state["session_profiles"] = {calibration: site}
    at = _app("pages/evaluation.py", calibration=calibration, **state)
    assert not at.exception and not at.error
    s = at.session_state["settings"]
    info = _plain(at.info[0].value)
    assert f"calibrated for {s.site.name}" in info and how in info
    view = evaluation_view(MODEL, s.site, s.shipped_site)
    assert view.out_of_fold == (how == eval_views.OUT_OF_FOLD_NOTE)
    labels, probs, _ = eval_views.eval_arrays(view.evaluation)
    source_labels, source_probs, _ = eval_views.eval_arrays(resources.eval_report(MODEL))
    assert not np.allclose(probs, source_probs)
    table = {r["metric"]: r["value"] for r in at.dataframe[0].value.to_dict("records")}
    expected = eval_views.threshold_metrics(view.evaluation, s.threshold)["specificity"]["value"]
    assert table["Specificity"] == formatting.format_number(expected)


def test_results_csv_and_case_report_name_the_calibration(monkeypatch, profiles):
    from pneumo_core.io import case_report as report
    site = load_profile(profiles["test-site"])
    from pneumo_core.inference.prediction import Prediction
    from pneumo_core.app.reading import scoring
    r = cases.CaseResult.scored(Prediction("a.png", 0.3, None, 0.5, MODEL, logit=float(logit(0.3))), "d")
    mine = scoring.case_on_site(r, site)
    assert mine.probability == pytest.approx(1 / (1 + np.exp(-(site.intercept + site.slope * logit(0.3)))), abs=1e-12)
    assert r.calibration == "calibrated on validation data"  # the cached result is left as it was
    rows = list(csv.DictReader(io.StringIO(cases.rows_to_csv(cases.result_rows([r, mine], 0.5, "balanced")).decode())))
    assert [row["calibration"] for row in rows] == ["calibrated on validation data", "calibrated for test-site"]
    drawn = []
    monkeypatch.setattr(report, "_text", lambda fig, x, y, s, **kw: drawn.append(s))
    img = np.zeros((64, 64), np.uint8)
    from pneumo_core.reporting.words import calibration_clause
    report.render_report(report.ReportCase("a.png", mine.probability, "NORMAL", 0.5, "balanced", MODEL, img,
                                           calibration=mine.calibration, site=site.name,
                                           calibration_clause=calibration_clause(site)), "png")
    text = " ".join(" ".join(drawn).split())
    assert "calibrated for test-site" in text and "recalibrated for test-site" in text
    assert "calibrated on validation data from that centre only" not in text


def test_drift_verdict_waits_for_twenty_scored_films_and_is_cached_per_calibration(monkeypatch, profiles):
    from pneumo_core.app.reading import scoring
    from pneumo_core.monitoring import drift
    from pneumo_core.monitoring.site_reference import reference_for
    assert reference_for(paths.resolve_model_dir(MODEL), None) is not None  # the default model ships one
    files = [paths.DATA_DIR / p["file"] for p in resources.eval_report(MODEL)["predictions"][::31]][:drift.MIN_BATCH]
    results = [scoring.score_file(MODEL, f.read_bytes(), f.name) for f in files]
    assert len(results) == drift.MIN_BATCH and all(r.ok and r.features is not None for r in results)
    assert scoring.batch_drift(MODEL, results[:-1], None) is None  # too few films: no verdict at all
    verdict = scoring.batch_drift(MODEL, results, None)
    assert verdict.shifted in (True, False) and verdict.n == drift.MIN_BATCH and "validation data" in verdict.text
    calls = []
    fixed = {"n": drift.MIN_BATCH, "statistic": 0.0, "p_value": 0.5, "level": 0.05, "shifted": False}
    monkeypatch.setattr(drift, "drift_test", lambda *a, **k: calls.append(1) or fixed)
    assert scoring.batch_drift(MODEL, results, None) == verdict and not calls  # cached on the batch's digests
    site = load_profile(profiles["test-site"])
    under_site = scoring.batch_drift(MODEL, [scoring.case_on_site(r, site) for r in results], site)
    assert calls == [1] and under_site.p_value == 0.5  # a new calibration is a new test


def _words(at: AppTest) -> list[str]:
    return [_plain(m.value) for m in at.sidebar.markdown if m.value.startswith("**At threshold")]


def test_sidebar_says_what_the_threshold_means_for_patients_and_follows_the_slider():
    at = _app()
    assert not at.exception
    s = at.session_state["settings"]
    expected = operating_point.at(MODEL, s.threshold)
    (text,) = _words(at)
    assert expected.in_words() in text and expected.in_numbers() in text.lower()
    at.sidebar.slider(key="threshold_slider").set_value(0.9).run()
    (moved,) = _words(at)
    assert at.session_state["settings"].threshold == pytest.approx(0.9)
    assert operating_point.at(MODEL, 0.9).in_numbers() in moved.lower() and moved != text


def test_presets_that_coincide_are_one_option_in_the_sidebar():
    at = _app()
    values = {k: round(float(v), 3) for k, v in resources.model_meta(MODEL).thresholds.items()}
    options = at.sidebar.radio(key="op").options
    assert len(options) == len(set(values.values())) + 1  # + custom
    for names in formatting.preset_groups(values).values():
        assert sum(all(n in o for n in names) for o in options) == 1


def test_a_site_profile_gives_words_at_its_cross_fitted_threshold_and_says_so_where_it_has_none(profiles):
    site = load_profile(profiles["test-site"])  # half the test films: not the study's out-of-fold split
    at = _app(calibration="shipped:test-site")
    assert not at.exception
    s = at.session_state["settings"]
    assert s.threshold == pytest.approx(site.estimates["threshold"])
    (text,) = _words(at)
    assert operating_point.at(MODEL, s.threshold, site).in_words() in text and "cross-fitted" in text
    other = next(o for o in at.sidebar.radio(key="op").options if not o.startswith(s.operating_point)
                 and o != "custom (slider)")
    at.sidebar.radio(key="op").set_value(other.split(" ")[0]).run()
    (text,) = _words(at)
    assert not at.exception and operating_point.NO_ESTIMATE in text


def test_the_evaluation_page_leads_with_the_operating_point_in_words():
    at = _app("pages/evaluation.py")
    assert not at.exception
    s = at.session_state["settings"]
    words = operating_point.at(MODEL, s.threshold).in_words()
    page = [_plain(m.value) for m in at.main.markdown]
    assert words in page[0], "the first thing the page says is what the threshold means for patients"
    assert at.main.subheader[0].value.startswith(f"At threshold {s.threshold:.3f}")
    assert "Training curves" not in [h.value for h in at.main.subheader]
