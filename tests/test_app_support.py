"""Tests for pneumo_core.app_support and pneumo_core.report: what the app's pages show.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
from PIL import Image

from pneumo_core import app_support as app
from pneumo_core.artifacts import list_models
from pneumo_core.report import REPORT_DISCLAIMER, ReportCase, render_report

MODELS = list_models()


@pytest.fixture(scope="module", params=MODELS)
def ev(request) -> dict:
    report = app.eval_report(request.param)
    assert report is not None, f"weights/{request.param}/eval_test.json missing"
    return report


# --- loading ------------------------------------------------------------------------------
def test_model_registry_mirror_agrees_with_artifacts():
    from pneumo_core import artifacts
    assert app.WEIGHTS_DIR == artifacts.WEIGHTS_DIR and app.DEFAULT_MODEL == artifacts.DEFAULT_MODEL
    assert app.list_models() == artifacts.list_models()
    assert all(app.resolve_model_dir(m) == artifacts.resolve_model_dir(m) for m in MODELS)
    with pytest.raises(ValueError):
        app.resolve_model_dir("../weights/paper_cnn")


def test_importing_the_app_support_does_not_import_torch():
    # torch takes seconds to import here; the first page must not wait for it
    import subprocess
    import sys
    code = "import sys, pneumo_core.app_support; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=app.REPO_DIR, capture_output=True).returncode == 0


# --- metrics from the per-image predictions ---------------------------------------------
def test_confusion_matrix_matches_the_evaluation_file_at_its_thresholds(ev):
    labels, probs, _ = app.eval_arrays(ev)
    for name, t in ev["thresholds"].items():
        assert app.confusion(labels, probs, t).tolist() == ev["metrics"][name]["confusion_matrix"]


def test_confusion_matrix_moves_with_threshold_and_keeps_every_image(ev):
    labels, probs, _ = app.eval_arrays(ev)
    low, high = app.confusion(labels, probs, 0.05), app.confusion(labels, probs, 0.95)
    assert low.sum() == high.sum() == ev["n"]
    assert low.sum(axis=1).tolist() == high.sum(axis=1).tolist() == [ev["counts"]["NORMAL"], ev["counts"]["PNEUMONIA"]]
    assert low[1, 1] >= high[1, 1] and low[0, 1] >= high[0, 1]  # a lower threshold calls more pneumonia
    assert low.tolist() != high.tolist()


def test_metrics_at_a_preset_are_the_files_own_numbers(ev):
    for name, t in ev["thresholds"].items():
        m = app.threshold_metrics(ev, t)
        for k in app.THRESHOLD_METRICS + app.FREE_METRICS:
            assert m[k]["value"] == pytest.approx(ev["metrics"][name][k]["value"])
            assert m[k]["ci_low"] == pytest.approx(ev["metrics"][name][k]["ci_low"])


def test_bootstrap_off_preset_agrees_with_the_files_bootstrap(ev):
    # a hair off the preset: same calls, but computed here rather than read from the file
    name, t = next(iter(ev["thresholds"].items()))
    m = app.threshold_metrics(ev, t + 1e-8)
    for k in ("recall", "specificity", "precision", "npv", "accuracy", "f1"):
        ref = ev["metrics"][name][k]
        assert m[k]["value"] == pytest.approx(ref["value"])
        assert m[k]["ci_low"] == pytest.approx(ref["ci_low"], abs=0.02)
        assert m[k]["ci_high"] == pytest.approx(ref["ci_high"], abs=0.02)
        assert m[k]["ci_low"] <= m[k]["value"] <= m[k]["ci_high"]


def test_per_class_normal_precision_is_the_npv_and_supports_are_the_counts(ev):
    t = 0.5
    pc = app.per_class_metrics_ci(ev, t)
    m = app.threshold_metrics(ev, t)
    assert pc["NORMAL"]["precision"] == m["npv"] and pc["NORMAL"]["recall"] == m["specificity"]
    assert pc["PNEUMONIA"]["recall"] == m["recall"]
    assert pc["NORMAL"]["support"] == ev["counts"]["NORMAL"] and pc["PNEUMONIA"]["support"] == ev["counts"]["PNEUMONIA"]
    labels, probs, _ = app.eval_arrays(ev)
    (tn, fp), (fn, _) = app.confusion(labels, probs, t)
    assert pc["NORMAL"]["f1"]["value"] == pytest.approx(2 * tn / (2 * tn + fn + fp))
    rows = app.per_class_table(ev, "NORMAL", t)
    assert [r["metric"] for r in rows][-1] == "Support (test images)" and rows[-1]["value"] == str(ev["counts"]["NORMAL"])


def test_metrics_table_states_whether_each_metric_moves_with_threshold(ev):
    rows = {r["metric"]: r for r in app.metrics_table(ev, 0.5)}
    assert rows["ROC AUC"]["moves with threshold"] == "no" and rows["Specificity"]["moves with threshold"] == "yes"
    assert re.fullmatch(r"0\.\d{3} – [01]\.\d{3}", rows["Sensitivity (recall)"]["95% CI"])


def test_operating_point_lies_on_the_roc_curve_points(ev):
    t = next(iter(ev["thresholds"].values()))
    op = app.operating_point(ev, t)
    roc = ev["curves"]["roc"]
    pts = list(zip(roc["fpr"], roc["tpr"]))  # roc_curve drops collinear points: test the segments
    x, y = op["fpr"], op["tpr"]
    assert any(f1 - 1e-9 <= x <= f2 + 1e-9 and s1 - 1e-9 <= y <= s2 + 1e-9
               and abs((f2 - f1) * (y - s1) - (s2 - s1) * (x - f1)) < 1e-9
               for (f1, s1), (f2, s2) in zip(pts, pts[1:]))
    fig = app.roc_figure(ev, t)
    cross = [tr for tr in fig.data if tr.name.startswith("current threshold")]
    assert len(cross) == 1 and cross[0].x[0] == pytest.approx(op["fpr"]) and cross[0].y[0] == pytest.approx(op["tpr"])


# --- galleries ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kind", [("PNEUMONIA", "correct"), ("PNEUMONIA", "error"),
                                      ("NORMAL", "correct"), ("NORMAL", "error")])
def test_gallery_holds_only_its_kind_most_confident_first(ev, cls, kind):
    t = next(iter(ev["thresholds"].values()))
    cases, total = app.gallery(ev, cls, kind, t, k=6)
    labels, probs, _ = app.eval_arrays(ev)
    (tn, fp), (fn, tp) = app.confusion(labels, probs, t)
    assert total == {("PNEUMONIA", "correct"): tp, ("PNEUMONIA", "error"): fn,
                     ("NORMAL", "correct"): tn, ("NORMAL", "error"): fp}[(cls, kind)]
    assert len(cases) == min(6, total)
    for c in cases:
        assert c["label"] == cls and c["file"].startswith(f"test/{cls}/")
        assert (c["called"] == cls) == (kind == "correct")
    p = [c["probability"] for c in cases]
    called_pneumonia = (cls == "PNEUMONIA") == (kind == "correct")
    assert p == sorted(p, reverse=called_pneumonia)  # confidence in the call made, descending


def test_gallery_refuses_unknown_class_or_kind(ev):
    with pytest.raises(ValueError):
        app.gallery(ev, "COVID", "correct", 0.5)
    with pytest.raises(ValueError):
        app.gallery(ev, "NORMAL", "wrong", 0.5)


def test_test_image_bytes_never_reads_outside_data():
    with pytest.raises(ValueError):
        app.test_image_bytes("../weights/efficientnet_lite0/model.json")
    with pytest.raises(ValueError):
        app.test_image_bytes("/etc/passwd")


def test_bundled_examples_are_test_images_of_both_classes():
    files = app.example_files()
    assert len(files) >= 4
    classes = [c for f in files for c in ("NORMAL", "PNEUMONIA") if (app.DATA_DIR / "test" / c / f.name).is_file()]
    assert len(classes) == len(files) and classes.count("NORMAL") >= 2 and classes.count("PNEUMONIA") >= 2


# --- file consistency, card, comparison --------------------------------------------------
def test_stale_evaluation_file_is_flagged_when_thresholds_or_weights_change():
    ev = {"thresholds": {"balanced": 0.4}, "model_sha256": "a"}
    assert app.eval_consistency(ev, {"thresholds": {"balanced": 0.4}, "model_sha256": "a"}) == []
    problems = app.eval_consistency(ev, {"thresholds": {"balanced": 0.5, "screening": 0.3}, "model_sha256": "b"})
    assert len(problems) == 2 and "other weights" in problems[0] and "screening (missing there)" in problems[1]


def test_comparison_has_every_model_at_every_preset():
    reports = {m: app.eval_report(m) for m in MODELS}
    rows = app.comparison_rows(reports, {m: app.model_meta(m) for m in MODELS})
    assert {(r["model"], r["operating point"]) for r in rows} == {(m, p) for m in MODELS for p in reports[m]["thresholds"]}


@pytest.mark.parametrize("model", MODELS)
def test_model_card_numbers_come_from_the_files(model):
    meta, ev = app.model_meta(model), app.eval_report(model)
    rows = app.card_metric_rows(ev)
    assert [r["operating point"] for r in rows] == list(ev["thresholds"])
    assert rows[0]["ROC AUC"].startswith(f"{ev['metrics'][rows[0]['operating point']]['roc_auc']['value']:.3f}")
    fields = {r["field"]: r["value"] for r in app.training_rows(meta)}
    assert f"{meta['temperature']:.3f}" in fields["temperature"]
    assert str(meta["best_epoch"]) in fields["epochs"]
    assert f"{ev['prevalence']:.1%}" in app.prevalence_note(ev, meta)


def test_saliency_caveats_call_out_methods_that_are_not_class_specific():
    from pneumo_core.saliency import METHODS
    text = app.saliency_caveats(METHODS)
    for spec in METHODS.values():
        assert app.escape_markdown(spec.label) in text
    assert ("not class-specific" in text) == any(not spec.class_specific for spec in METHODS.values())


# --- uploads: table, CSV, names ------------------------------------------------------------
def _results() -> list[app.CaseResult]:
    return [app.CaseResult("=HYPERLINK(\"http://x\").png", "d1", probability=0.8, warnings=["image has colour"],
                           model="m"),
            app.CaseResult("b.png", "d2", error="not an image: looks like a text file", model="m"),
            app.CaseResult("c.jpeg", "d3", probability=0.1, model="m")]


def test_results_table_keeps_failed_files_with_their_error():
    rows = app.result_rows(_results(), 0.5, "balanced")
    assert [r["label"] for r in rows] == ["PNEUMONIA", "not scored", "NORMAL"]
    assert rows[1]["P(pneumonia)"] is None and rows[1]["warnings / error"].startswith("ERROR: not an image")
    assert app.batch_summary(_results(), 0.5) == "3 images, 1 called PNEUMONIA, 1 called NORMAL, 1 not scored, 1 with warnings"


def test_csv_export_defuses_spreadsheet_formulas_in_file_names():
    data = app.rows_to_csv(app.result_rows(_results(), 0.5, "balanced"))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert len(rows) == 3 and rows[0]["file"].startswith("'=")
    assert rows[0]["P(pneumonia)"] == "0.800000" and rows[1]["P(pneumonia)"] == ""


@pytest.mark.parametrize("name", ["**bold**", "[link](http://x)", "<img src=x onerror=alert(1)>", "$x^2$",
                                  ":red[alarm]", "a_b_c", "# heading", "`code`", "line\nbreak"])
def test_escaped_file_names_carry_no_live_markdown(name):
    out = app.escape_markdown(name)
    assert "\n" not in out
    unescaped = re.sub(r"\\.", "", out)  # drop every escaped character: nothing special may remain
    assert not re.search(r"[\\`*_{}\[\]()#+\-.!|<>~$:]", unescaped)


@pytest.mark.parametrize("name,expected", [("../../etc/passwd", "passwd_report.pdf"),
                                           ("C:\\Users\\x\\scan 1.dcm", "scan_1_report.pdf"),
                                           ("<script>.png", "script_report.pdf"), ("...", "case_report.pdf"),
                                           ("IM-0001-0001.jpeg", "IM-0001-0001_report.pdf")])
def test_download_names_never_carry_paths_or_odd_characters(name, expected):
    assert app.safe_filename(name, "_report.pdf") == expected


@pytest.mark.parametrize("p,text", [(0.0, "< 0.1%"), (0.0004, "< 0.1%"), (0.4599, "46.0%"), (0.9995, "> 99.9%"),
                                    (None, "–"), (float("nan"), "–")])
def test_probabilities_never_print_as_a_certain_zero_or_one(p, text):
    assert app.format_probability(p) == text


# --- overlay ----------------------------------------------------------------------------------
def test_overlay_keeps_the_radiograph_size_and_leaves_cold_regions_untinted():
    gray = np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))
    heat = np.zeros((7, 7), np.float32)
    heat[0, 0] = 1.0
    out = app.blend(gray, heat, 0.6)
    assert out.shape == (200, 300, 3) and out.dtype == np.uint8
    assert np.array_equal(out[-1, -1], np.repeat(gray[-1, -1], 3))  # heat 0: the radiograph as it is
    assert not np.array_equal(out[0, 0], np.repeat(gray[0, 0], 3))
    assert np.array_equal(app.blend(gray, heat, 0.0), np.repeat(gray[..., None], 3, axis=2))


def test_display_copy_of_a_big_image_is_downsampled_with_its_aspect_ratio():
    out = app.to_display(np.random.default_rng(0).random((3000, 2000), dtype=np.float32))
    assert max(out.shape) == app.DISPLAY_MAX_SIDE and out.dtype == np.uint8
    assert out.shape[0] / out.shape[1] == pytest.approx(1.5, rel=0.01)


# --- cached scoring and heatmaps: a slider move must not re-run the network -------------------
@pytest.fixture(scope="module")
def example_bytes() -> bytes:
    return next(p for p in app.example_files() if p.name.startswith("person")).read_bytes()


def test_scoring_is_cached_on_content_so_reruns_skip_the_network(monkeypatch, example_bytes):
    from pneumo_core.predictor import Predictor
    calls = []
    real = Predictor.predict_radiographs
    monkeypatch.setattr(Predictor, "predict_radiographs", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    app._score.clear()
    first = app.score_file(app.DEFAULT_MODEL, example_bytes, "x.jpeg")
    again = app.score_file(app.DEFAULT_MODEL, bytes(example_bytes), "x.jpeg")
    assert len(calls) == 1 and first.ok and again.probability == first.probability
    assert first.display.dtype == np.uint8 and first.size is not None
    assert app.label_at(first.probability, 0.0) == "PNEUMONIA" and app.label_at(first.probability, 1.0) == "NORMAL"


def test_a_bad_upload_comes_back_with_its_error_instead_of_raising():
    r = app.score_file(app.DEFAULT_MODEL, b"%PDF-1.4 not a radiograph", "report.pdf")
    assert not r.ok and r.error and "\n" not in r.error and r.probability is None


def test_heatmap_is_cached_per_class_and_opacity_never_recomputes_it(monkeypatch, example_bytes):
    import pneumo_core.saliency as saliency
    calls = []
    real = saliency.explain
    monkeypatch.setattr(saliency, "explain", lambda *a, **k: calls.append(k.get("target")) or real(*a, **k))
    app._heatmap.clear()
    a = app.heatmap_for(app.DEFAULT_MODEL, example_bytes, "x.jpeg", "gradcam", "PNEUMONIA")
    b = app.heatmap_for(app.DEFAULT_MODEL, example_bytes, "x.jpeg", "gradcam", "PNEUMONIA")
    assert calls == ["PNEUMONIA"] and a.target_class == "PNEUMONIA" and np.array_equal(a.heatmap, b.heatmap)
    assert 0.0 <= a.heatmap.min() and a.heatmap.max() <= 1.0 and a.note
    display = app.score_file(app.DEFAULT_MODEL, example_bytes, "x.jpeg").display
    assert not np.array_equal(app.blend(display, a.heatmap, 0.2), app.blend(display, a.heatmap, 0.8))
    assert calls == ["PNEUMONIA"]


# --- report -----------------------------------------------------------------------------------
def _case(**kw) -> ReportCase:
    img = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (300, 1))
    base = dict(file_name="$\\frac{1}{0}$ **x** <b>y</b>.png", probability=0.73, label="PNEUMONIA", threshold=0.46,
                operating_point="balanced", model="efficientnet_lite0", image=img,
                overlay=np.repeat(img[..., None], 3, axis=2), model_description="test model", method="Grad-CAM",
                target_class="PNEUMONIA", heatmap_note="Relative map.", warnings=["out of distribution: $$ unlike"],
                metadata={"Modality": "CR", "ViewPosition": "AP"})
    base.update(kw)
    return ReportCase(**base)


def test_report_renders_a_file_name_full_of_mathtext_and_markup_as_plain_text():
    pdf = render_report(_case(), "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    png = Image.open(io.BytesIO(render_report(_case(), "png")))
    assert png.size == (827, 1169)  # A4 at 100 dpi


def test_report_without_heatmap_or_warnings_still_renders():
    out = render_report(_case(overlay=None, warnings=[], metadata={}, heatmap_note=""), "png")
    assert out.startswith(b"\x89PNG")


def test_case_report_callable_renders_the_scored_case_on_demand(example_bytes):
    r = app.score_file(app.DEFAULT_MODEL, example_bytes, "x.jpeg")
    hm = app.heatmap_for(app.DEFAULT_MODEL, example_bytes, "x.jpeg", "gradcam", "PNEUMONIA")
    s = app.Settings(app.DEFAULT_MODEL, "custom", 0.5, "gradcam", 0.5)
    render = app.case_report(r, s, "PNEUMONIA", hm, app.blend(r.display, hm.heatmap, 0.5))
    assert callable(render) and render().startswith(b"%PDF")


def test_report_refuses_unknown_formats():
    with pytest.raises(ValueError):
        render_report(_case(), "svg")


def test_report_disclaimer_says_research_demo_not_diagnosis():
    assert "NOT A DIAGNOSIS" in REPORT_DISCLAIMER and "research" in app.DISCLAIMER.lower()
