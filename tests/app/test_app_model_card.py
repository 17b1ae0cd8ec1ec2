"""Tests for pneumo_core.app.model_card: the card's and the comparison's rows and captions.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from pneumo_core.app import formatting, model_card, resources
from pneumo_core.models.bundle import list_models

MODELS = list_models()


def test_comparison_has_every_model_at_every_preset():
    reports = {m: resources.eval_report(m) for m in MODELS}
    rows = model_card.comparison_rows(reports, {m: resources.model_meta(m) for m in MODELS})
    assert {(r["model"], r["operating point"]) for r in rows} == {(m, p) for m in MODELS for p in reports[m]["thresholds"]}


@pytest.mark.parametrize("model", MODELS)
def test_model_card_numbers_come_from_the_files(model):
    meta, ev = resources.model_meta(model), resources.eval_report(model)
    rows = model_card.card_metric_rows(ev)
    assert [r["operating point"] for r in rows] == list(ev["thresholds"])
    assert rows[0]["ROC AUC"].startswith(f"{ev['metrics'][rows[0]['operating point']]['roc_auc']['value']:.3f}")
    fields = {r["field"]: r["value"] for r in model_card.training_rows(meta)}
    assert f"{meta.temperature:.3f}" in fields["temperature"]
    cal = meta.calibration
    assert ("pooled with simulated shifts" in fields["temperature"]) == (cal["fitted_on"] != ["clean"])
    for way in ("clean", "pooled"):
        for metric in ("balanced_log_loss", "balanced_accuracy"):  # the choice weighs both
            assert f"{way} fit {cal['mean_held_out'][way][metric]:.4f}" in fields["calibration choice"]
    assert "shipped" not in fields["calibration choice"], "the kept point was not held out: not comparable"
    old = {r["field"]: r["value"] for r in model_card.training_rows(replace(meta, calibration=None))}
    assert "fitted on clean validation," in old["temperature"] and old["calibration choice"].startswith("not recorded")
    assert str(meta.best_epoch) in fields["epochs"]
    cfg = meta.training["config"]
    assert f"of {cfg['epochs']} scheduled" in fields["epochs"] and "never before" not in fields["epochs"], \
        "the shipped runs predate early_stop_from: they could stop at any epoch"
    newer = replace(meta, training={**meta.training, "config": {**cfg, "early_stop_from": 0.5}})
    assert f"never before epoch {-(-cfg['epochs'] // 2)}" in \
        {r["field"]: r["value"] for r in model_card.training_rows(newer)}["epochs"]
    assert fields["soft targets and backbone learning rate"] == "none (hard labels, one learning rate)"
    tuned = replace(meta, training={**meta.training, "config": {**cfg, "mixup": 0.2, "backbone_lr_scale": 0.1}})
    assert {r["field"]: r["value"] for r in model_card.training_rows(tuned)}["soft targets and backbone learning rate"] \
        == "mixup 0.2, backbone learning rate x0.1 of the head's"
    frozen = replace(meta, training={**meta.training, "config": {**cfg, "backbone_lr_scale": 0.0}})
    assert "x0.0" in {r["field"]: r["value"] for r in model_card.training_rows(frozen)}["soft targets and backbone learning rate"]
    assert f"{ev['prevalence']:.1%}" in model_card.prevalence_note(ev, meta)


def test_saliency_caveats_call_out_methods_that_are_not_class_specific():
    from pneumo_core.inference.saliency import METHODS
    text = model_card.saliency_caveats(METHODS)
    for spec in METHODS.values():
        assert formatting.escape_markdown(spec.label) in text
    assert ("not class-specific" in text) == any(not spec.class_specific for spec in METHODS.values())
