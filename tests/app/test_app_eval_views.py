"""Tests for pneumo_core.app.review.eval_views: what the evaluation pages compute at any threshold.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import re

import pytest

from pneumo_core.app.review import eval_views, figures
from pneumo_core.app.runtime import resources
from pneumo_core.models.bundle import list_models

MODELS = list_models()


@pytest.fixture(scope="module", params=MODELS)
def ev(request) -> dict:
    report = resources.eval_report(request.param)
    assert report is not None, f"weights/{request.param}/eval_test.json missing"
    return report


def test_confusion_matrix_matches_the_evaluation_file_at_its_thresholds(ev):
    labels, probs, _ = eval_views.eval_arrays(ev)
    for name, t in ev["thresholds"].items():
        assert eval_views.confusion(labels, probs, t).tolist() == ev["metrics"][name]["confusion_matrix"]


def test_confusion_matrix_moves_with_threshold_and_keeps_every_image(ev):
    labels, probs, _ = eval_views.eval_arrays(ev)
    low, high = eval_views.confusion(labels, probs, 0.05), eval_views.confusion(labels, probs, 0.95)
    assert low.sum() == high.sum() == ev["n"]
    assert low.sum(axis=1).tolist() == high.sum(axis=1).tolist() == [ev["counts"]["NORMAL"], ev["counts"]["PNEUMONIA"]]
    assert low[1, 1] >= high[1, 1] and low[0, 1] >= high[0, 1]  # a lower threshold calls more pneumonia
    assert low.tolist() != high.tolist()


def test_metrics_at_a_preset_are_the_files_own_numbers(ev):
    for name, t in ev["thresholds"].items():
        m = eval_views.threshold_metrics(ev, t)
        for k in eval_views.THRESHOLD_METRICS + eval_views.FREE_METRICS:
            assert m[k]["value"] == pytest.approx(ev["metrics"][name][k]["value"])
            assert m[k]["ci_low"] == pytest.approx(ev["metrics"][name][k]["ci_low"])


def test_bootstrap_off_preset_agrees_with_the_files_bootstrap(ev):
    # a hair off the preset: same calls, but computed here rather than read from the file
    name, t = next(iter(ev["thresholds"].items()))
    m = eval_views.threshold_metrics(ev, t + 1e-8)
    for k in ("recall", "specificity", "precision", "npv", "accuracy", "f1"):
        ref = ev["metrics"][name][k]
        assert m[k]["value"] == pytest.approx(ref["value"])
        assert m[k]["ci_low"] == pytest.approx(ref["ci_low"], abs=0.02)
        assert m[k]["ci_high"] == pytest.approx(ref["ci_high"], abs=0.02)
        assert m[k]["ci_low"] <= m[k]["value"] <= m[k]["ci_high"]


def test_per_class_normal_precision_is_the_npv_and_supports_are_the_counts(ev):
    t = 0.5
    pc = eval_views.per_class_metrics_ci(ev, t)
    m = eval_views.threshold_metrics(ev, t)
    assert pc["NORMAL"]["precision"] == m["npv"] and pc["NORMAL"]["recall"] == m["specificity"]
    assert pc["PNEUMONIA"]["recall"] == m["recall"]
    assert pc["NORMAL"]["support"] == ev["counts"]["NORMAL"] and pc["PNEUMONIA"]["support"] == ev["counts"]["PNEUMONIA"]
    labels, probs, _ = eval_views.eval_arrays(ev)
    (tn, fp), (fn, _) = eval_views.confusion(labels, probs, t)
    assert pc["NORMAL"]["f1"]["value"] == pytest.approx(2 * tn / (2 * tn + fn + fp))
    rows = eval_views.per_class_table(ev, "NORMAL", t)
    assert [r["metric"] for r in rows][-1] == "Support (test images)" and rows[-1]["value"] == str(ev["counts"]["NORMAL"])


def test_metrics_table_states_whether_each_metric_moves_with_threshold(ev):
    rows = {r["metric"]: r for r in eval_views.metrics_table(ev, 0.5)}
    assert rows["ROC AUC"]["moves with threshold"] == "no" and rows["Specificity"]["moves with threshold"] == "yes"
    assert re.fullmatch(r"0\.\d{3} – [01]\.\d{3}", rows["Sensitivity (recall)"]["95% CI"])


def test_operating_point_lies_on_the_roc_curve_points(ev):
    t = next(iter(ev["thresholds"].values()))
    op = eval_views.operating_point(ev, t)
    roc = ev["curves"]["roc"]
    pts = list(zip(roc["fpr"], roc["tpr"]))  # roc_curve drops collinear points: test the segments
    x, y = op["fpr"], op["tpr"]
    assert any(f1 - 1e-9 <= x <= f2 + 1e-9 and s1 - 1e-9 <= y <= s2 + 1e-9
               and abs((f2 - f1) * (y - s1) - (s2 - s1) * (x - f1)) < 1e-9
               for (f1, s1), (f2, s2) in zip(pts, pts[1:]))
    fig = figures.roc_figure(ev, t)
    cross = [tr for tr in fig.data if tr.name.startswith("current threshold")]
    assert len(cross) == 1 and cross[0].x[0] == pytest.approx(op["fpr"]) and cross[0].y[0] == pytest.approx(op["tpr"])


@pytest.mark.parametrize("cls,kind", [("PNEUMONIA", "correct"), ("PNEUMONIA", "error"),
                                      ("NORMAL", "correct"), ("NORMAL", "error")])
def test_gallery_holds_only_its_kind_most_confident_first(ev, cls, kind):
    t = next(iter(ev["thresholds"].values()))
    cases, total = eval_views.gallery(ev, cls, kind, t, k=6)
    labels, probs, _ = eval_views.eval_arrays(ev)
    (tn, fp), (fn, tp) = eval_views.confusion(labels, probs, t)
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
        eval_views.gallery(ev, "COVID", "correct", 0.5)
    with pytest.raises(ValueError):
        eval_views.gallery(ev, "NORMAL", "wrong", 0.5)


def test_stale_evaluation_file_is_flagged_when_thresholds_or_weights_change():
    ev = {"thresholds": {"balanced": 0.4}, "model_sha256": "a"}
    assert eval_views.eval_consistency(ev, "a", {"balanced": 0.4}) == []
    problems = eval_views.eval_consistency(ev, "b", {"balanced": 0.5, "screening": 0.3})
    assert len(problems) == 2 and "other weights" in problems[0] and "screening (missing there)" in problems[1]


def test_learning_curves_set_train_against_validation_and_tolerate_old_histories():
    hist = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.8, "val_accuracy": 0.7,
             "train_auc": 0.9, "val_auc": 0.85, "lr": 1e-3} for e in (1, 2, 3)]
    names = {t.name for t in figures.learning_figure(hist, best_epoch=2).data}
    assert {"train accuracy", "validation accuracy", "train AUC", "validation AUC"} <= names
    old = [{k: v for k, v in h.items() if k != "train_auc"} for h in hist]  # shipped before train AUC was logged
    assert "train AUC" not in {t.name for t in figures.learning_figure(old).data}


def test_coinciding_presets_are_one_circle_on_the_roc_naming_both():
    ev = resources.eval_report(MODELS[0])
    same = {"balanced": 0.3, "screening": 0.3}
    circles = [tr.name for tr in figures.roc_figure({**ev, "thresholds": same}, 0.5).data if tr.name.startswith("preset")]
    assert circles == ["preset balanced = screening (0.300)"]
    apart = {"balanced": 0.3, "screening": 0.1}
    circles = [tr.name for tr in figures.roc_figure({**ev, "thresholds": apart}, 0.5).data if tr.name.startswith("preset")]
    assert circles == ["preset balanced (0.300)", "preset screening (0.100)"]


def test_metrics_table_leads_with_sensitivity_and_specificity():
    rows = eval_views.metrics_table(resources.eval_report(MODELS[0]), 0.5)
    assert [r["metric"] for r in rows[:2]] == ["Sensitivity (recall)", "Specificity"]


def test_site_study_x_ticks_never_print_a_study_size_on_top_of_the_samples_own():
    from pneumo_core.app.site import site_figures
    study = resources.site_study(MODELS[0])
    sizes = sorted(int(n) for n in study["sizes"])
    ticks = list(site_figures.study_figure(study, None, sizes[0] + 3).layout.xaxis.tickvals)
    assert sizes[0] + 3 in ticks and sizes[0] not in ticks and sizes[-1] in ticks
    ratios = [b / a for a, b in zip(ticks, ticks[1:])]
    assert min(ratios) >= site_figures.TICK_GAP
    assert list(site_figures.study_figure(study).layout.xaxis.tickvals or sizes) == sizes


def _banners() -> dict[str, str]:
    """The Evaluation banner in each branch `evaluation_view` can take (source, adapted, and a
    site profile read out of fold, graded on its own films, or recalibrating another sample)."""
    from dataclasses import replace

    from pneumo_core.calibration.site import resolve_profile
    from pneumo_core.evaluation.operating_point import STUDY_PROFILE

    ev = resources.eval_report("efficientnet_lite0")
    fitted = resolve_profile(STUDY_PROFILE, resources.resolve_model_dir("efficientnet_lite0"))
    other = replace(fitted, name="north", files_sha256="0" * 64)
    adapted = replace(fitted, name="north", adaptation={"films": 120, "estimated_prevalence": 0.3, "layers": {}})
    study = {"calibration": "site-calibrated out of fold (5 patient-grouped folds)"}
    return {"source": eval_views.source_view(ev).banner,
            "adapted": eval_views.adapted_view(ev, adapted).banner,
            "out of fold": eval_views.site_view(fitted, ev, study, None, shipped=True).banner,
            "own sample": eval_views.site_view(fitted, ev, None, ev, shipped=True).banner,
            "recalibrated": eval_views.site_view(other, ev, None, ev).banner}


@pytest.mark.parametrize("branch", ["source", "adapted", "out of fold", "own sample", "recalibrated"])
def test_the_evaluation_banner_never_says_its_calibration_twice(branch):
    """It read "Probabilities calibrated on validation data: probabilities calibrated on ..."."""
    text = _banners()[branch].lower()
    assert text.startswith("**probabilities calibrated ")
    assert text.count("probabilities") == 1, text
    assert text.count("calibrated on") <= 1 and text.count("site-calibrated") == 0, text
    head = text.split("**")[1]
    assert head.removeprefix("probabilities ") not in text.split("**", 2)[2], text


def test_the_out_of_fold_banner_keeps_how_many_folds():
    assert "(5 patient-grouped folds)" in _banners()["out of fold"]
