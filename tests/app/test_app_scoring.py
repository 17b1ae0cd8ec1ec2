"""Tests for pneumo_core.app.reading.scoring: a slider move must not re-run the network.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import numpy as np
import pytest

from pneumo_core.app.reading import cases, scoring
from pneumo_core.app.runtime import paths, resources
from pneumo_core.app.settings import sidebar


@pytest.fixture(scope="module")
def example_bytes() -> bytes:
    return next(p for p in paths.example_files() if p.name.startswith("person")).read_bytes()


def test_scoring_is_cached_on_content_so_reruns_skip_the_network(monkeypatch, example_bytes):
    from pneumo_core.inference.predictor import Predictor
    resources.import_saliency()  # waits for the warm-up, whose dummy forward pass is not a rerun
    calls = []
    real = Predictor.predict_radiographs
    monkeypatch.setattr(Predictor, "predict_radiographs", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    scoring._score.clear()
    first = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    again = scoring.score_file(paths.DEFAULT_MODEL, bytes(example_bytes), "x.jpeg")
    assert len(calls) == 1 and first.ok and again.probability == first.probability
    assert first.display.dtype == np.uint8 and first.size is not None
    assert cases.label_at(first.probability, 0.0) == "PNEUMONIA" and cases.label_at(first.probability, 1.0) == "NORMAL"


def test_a_bad_upload_comes_back_with_its_error_instead_of_raising():
    r = scoring.score_file(paths.DEFAULT_MODEL, b"%PDF-1.4 not a radiograph", "report.pdf")
    assert not r.ok and r.error and "\n" not in r.error and r.probability is None


def test_an_upload_is_decoded_in_the_worker_pool_not_in_the_server(monkeypatch, example_bytes):
    from pneumo_core.io import ingest, sandbox
    monkeypatch.setattr(ingest, "load", lambda *a, **k: pytest.fail("decoded in the server process"))
    before = sandbox.default_pool()
    scoring._score.clear()
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    assert r.ok and sandbox.default_pool() is before and before._idle  # a warm worker kept for the next film


def test_a_busy_server_says_so_and_does_not_cache_the_refusal(monkeypatch, example_bytes):
    from pneumo_core.io import budget
    scoring._score.clear()
    held = [budget._HEAVY.acquire(timeout=5) for _ in range(budget.HEAVY_WORKERS)]
    try:
        monkeypatch.setattr(scoring, "heavy_work", lambda: budget.heavy_work(timeout=0.05))
        busy = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    finally:
        for _ in held:
            budget._HEAVY.release()
    assert not busy.ok and "busy" in busy.error
    assert scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg").ok  # tried again, not the cached refusal


def test_heatmap_is_cached_per_class_and_opacity_never_recomputes_it(monkeypatch, example_bytes):
    import pneumo_core.inference.saliency as saliency
    calls = []
    real = saliency.explain
    monkeypatch.setattr(saliency, "explain", lambda *a, **k: calls.append(k.get("target")) or real(*a, **k))
    scoring._heatmap.clear()
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    a = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "PNEUMONIA")
    b = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "PNEUMONIA")
    assert calls == ["PNEUMONIA"] and a.target_class == "PNEUMONIA" and np.array_equal(a.heatmap, b.heatmap)
    assert 0.0 <= a.heatmap.min() and a.heatmap.max() <= 1.0 and a.note
    assert not np.array_equal(cases.blend(r.display, a.heatmap, 0.2), cases.blend(r.display, a.heatmap, 0.8))
    assert calls == ["PNEUMONIA"]


def test_the_heatmap_explains_the_scored_model_input_without_decoding_the_file_again(monkeypatch, example_bytes):
    import pneumo_core.inference.saliency as saliency
    from pneumo_core.io import sandbox
    scoring._score.clear()
    scoring._heatmap.clear()
    decoded, explained = [], []
    real_load, real_explain = sandbox.load_untrusted, saliency.explain
    monkeypatch.setattr(scoring, "load_untrusted", lambda *a, **k: decoded.append(1) or real_load(*a, **k))
    monkeypatch.setattr(saliency, "explain", lambda p, image, **k: explained.append(image) or real_explain(p, image, **k))
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "NORMAL")
    assert decoded == [1] and len(explained) == 1 and explained[0] is r.model_input
    assert r.model_input.dtype == np.uint8 and r.film.dtype == np.uint8 and r.film.shape == r.display.shape


def test_each_heatmap_carries_its_checks_logits_so_the_words_follow_the_threshold(example_bytes):
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    hm = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "PNEUMONIA")
    assert hm.logit_before == pytest.approx(r.logit, abs=1e-3)  # the map's own pass agrees with the score
    check = scoring.region_check(hm, None, 0.5)
    assert check.p_before == pytest.approx(r.probability, abs=1e-4)
    assert (check.called, check.logit_after) == ("PNEUMONIA", hm.logit_after)
    assert check.p_after == pytest.approx(1 / (1 + np.exp(-hm.logit_after)), abs=1e-12)  # the source calibration
    assert scoring.region_check(hm, None, 0.999999).outcome == "flips"  # the same map, judged at another threshold


def test_eigencam_caption_does_not_claim_to_explain_a_class(example_bytes):
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    caption = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "eigencam", "NORMAL").caption
    assert "explains" not in caption and caption.count("not class-specific") == 1
    assert "not a finding" in caption and "support" not in caption  # drawn as the call's outline, claiming nothing
    assert "explains NORMAL" in scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "NORMAL").caption


def _captured_report(monkeypatch, render_args: tuple) -> object:
    from pneumo_core.io import case_report
    seen = []
    monkeypatch.setattr(case_report, "render_report", lambda case, fmt="pdf": seen.append(case) or b"%PDF")
    assert scoring.case_report(*render_args)() == b"%PDF"
    return seen[0]


def test_case_report_carries_the_typed_fields_and_the_operating_points_sensitivity_and_specificity(
        monkeypatch, example_bytes):
    from pneumo_core.app.settings import operating_point
    from pneumo_core.app.reading.report_form import ReportFields
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    hm = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "PNEUMONIA")
    s = sidebar.Settings(paths.DEFAULT_MODEL, "balanced", resources.model_meta(paths.DEFAULT_MODEL).thresholds["balanced"],
                         "gradcam", 0.5)
    op = operating_point.current(s)
    assert op is not None
    fields = ReportFields("ACC-42", "Patchy right lower zone opacity.", "Dr Test")
    case = _captured_report(monkeypatch, (r, s, hm, fields, op))
    assert (case.accession_number, case.impression, case.reader) == ("ACC-42", "Patchy right lower zone opacity.",
                                                                     "Dr Test")
    assert (case.sensitivity, case.specificity) == (op.sensitivity, op.specificity)
    assert case.sensitivity_ci == tuple(op.sensitivity_ci) and case.operating_point_words == op.in_words()
    assert "temperature scaling" in case.calibration_detail
    assert case.heatmap_check == scoring.region_check(hm, s.site, s.threshold).text


def test_case_report_callable_renders_the_scored_case_on_demand(example_bytes):
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    hm = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "PNEUMONIA")
    s = sidebar.Settings(paths.DEFAULT_MODEL, "custom", 0.5, "gradcam", 0.5)
    render = scoring.case_report(r, s, hm)
    assert callable(render) and render().startswith(b"%PDF")


def test_under_a_site_profile_the_check_speaks_the_sites_probability(example_bytes):
    from dataclasses import replace
    path = next(iter(resources.shipped_site_files(paths.DEFAULT_MODEL).values()))
    # its recalibration, as if fitted on another site's films (the example is a test film, and the
    # shipped profile was fitted on the test split: that case is out of fold, test_app_out_of_fold)
    site = replace(resources.site_profile(path), name="elsewhere", files_sha256="0" * 64)
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg", site)
    hm = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", "NORMAL")
    on_site, on_source = scoring.region_check(hm, site, 0.5), scoring.region_check(hm, None, 0.5)
    a, b = site.intercept, site.slope  # the profile's recalibration, written out: P = sigmoid(a + b * logit)
    assert on_site.p_before == pytest.approx(r.probability, abs=1e-4)  # the case's own P, as the page shows it
    assert on_site.p_after == pytest.approx(1 / (1 + np.exp(-(a + b * hm.logit_after))), abs=1e-12)
    assert on_source.p_after == pytest.approx(1 / (1 + np.exp(-hm.logit_after)), abs=1e-12) != on_site.p_after


@pytest.mark.parametrize("turns, inverted", [(1, False), (2, False), (3, False), (0, True)])
def test_a_film_the_gate_turned_is_shown_as_scored_from_the_predictions_own_correction(turns, inverted, example_bytes):
    from PIL import Image
    import io
    upright = np.asarray(Image.open(io.BytesIO(example_bytes)).convert("L"))
    turned = np.rot90(upright, -turns)
    turned = 255 - turned if inverted else turned

    def png(a):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG")
        return buf.getvalue()
    straight = scoring.score_file(paths.DEFAULT_MODEL, png(upright), "upright.png")
    r = scoring.score_file(paths.DEFAULT_MODEL, png(turned), "turned.png")
    assert r.status == "scored" and r.correction is not None and straight.correction is None
    assert np.array_equal(r.film, straight.film)  # the viewer shows it upright, where the heatmap lies


def test_the_apps_pdf_and_the_command_lines_report_say_the_same_shortcut_check(monkeypatch, default_predictor):
    """One wording through both doors: on a validation film whose map's strongest cell sits on
    the "R" marker, the app's PDF and the PACS report of the command line print the same
    shortcut sentence (each film's default map; the balanced threshold; no profile)."""
    from conftest import REPO

    from pneumo_core.inference.saliency_default import default_method
    from pneumo_core.pacs import report_dicom
    film = REPO.parent / "shared" / "data" / "chest_xray" / "train" / "PNEUMONIA" / "person1418_virus_2429.jpeg"
    data = film.read_bytes()
    drawn = []
    monkeypatch.setattr(report_dicom, "render_report", lambda case, fmt: drawn.append(case) or b"%PDF-1.4\n")
    report_dicom.report_pdf(default_predictor, default_predictor.predict_bytes(data, film.name), data, "balanced")
    method = default_method(default_predictor.bundle.arch)
    r = scoring.score_file(paths.DEFAULT_MODEL, data, film.name)
    s = sidebar.Settings(paths.DEFAULT_MODEL, "balanced", resources.model_meta(paths.DEFAULT_MODEL).thresholds["balanced"],
                         method, 0.5)
    hm = scoring.heatmap_for(paths.DEFAULT_MODEL, r, method, "PNEUMONIA")  # the call at the balanced threshold
    case = _captured_report(monkeypatch, (r, s, hm))
    assert case.heatmap_shortcut.startswith("The map's strongest cell lies on a burned-in marker")
    assert case.heatmap_shortcut == drawn[0].heatmap_shortcut
