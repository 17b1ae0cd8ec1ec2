"""Tests for pneumo_core.app.review.model_card: the card's and the comparison's rows and captions.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from pneumo_core.app.runtime import formatting, resources
from pneumo_core.app.review import model_card
from pneumo_core.models.bundle import list_models

MODELS = list_models()


def test_comparison_names_every_preset_of_every_model_once_and_coinciding_presets_share_a_row():
    reports = {m: resources.eval_report(m) for m in MODELS}
    rows = model_card.comparison_rows(reports, {m: resources.model_meta(m) for m in MODELS})
    named = [(r["model"], p) for r in rows for p in r["operating point"].split(" = ")]
    assert sorted(named) == sorted((m, p) for m in MODELS for p in reports[m]["thresholds"])
    for r in rows:  # one row per distinct threshold of a model
        assert len({round(float(reports[r["model"]]["thresholds"][p]), 3) for p in r["operating point"].split(" = ")}) == 1
    assert len({(r["model"], r["threshold"]) for r in rows}) == len(rows)


@pytest.mark.parametrize("model", MODELS)
def test_model_card_numbers_come_from_the_files(model):
    meta, ev = resources.model_meta(model), resources.eval_report(model)
    rows = {r["metric"]: r for r in model_card.card_metric_rows(ev, meta.default_threshold)}
    column = next(k for k in rows["ROC AUC"] if k.startswith(meta.default_threshold))
    assert rows["ROC AUC"][column].startswith(f"{ev['metrics'][meta.default_threshold]['roc_auc']['value']:.3f}")
    assert rows["Specificity"][column].startswith(f"{ev['metrics'][meta.default_threshold]['specificity']['value']:.3f}")
    fields = {r["field"]: r["value"] for r in model_card.training_rows(meta)}
    assert f"{meta.temperature:.3f}" in fields["temperature"]
    cal = meta.calibration
    assert ("pooled with simulated shifts" in fields["temperature"]) == (cal["fitted_on"] != ["clean"])
    details = model_card.calibration_choice_details(meta)
    for way in ("clean", "pooled"):
        for metric in ("balanced_log_loss", "balanced_accuracy"):  # the choice weighs both
            assert f"{way} fit {cal['mean_held_out'][way][metric]:.4f}" in details
    assert "shipped" not in details, "the kept point was not held out: not comparable"
    assert len(fields["calibration choice"].split()) <= 25, "the card's row is plain words; the rule is in the expander"
    assert ("simulated" in fields["calibration choice"]) and (
        ("did not pass" in fields["calibration choice"]) == (cal["fitted_on"] == ["clean"]))
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


def test_saliency_caveats_call_out_methods_that_are_not_class_specific_once_each():
    from pneumo_core.inference.saliency import METHODS
    text = model_card.saliency_caveats(METHODS)
    for spec in METHODS.values():
        name = spec.label.replace(" (not class-specific)", "")
        line = next(ln for ln in text.splitlines() if ln.startswith(f"- **{formatting.escape_markdown(name)}**"))
        assert line.count("class-specific") == 1, f"said twice: {line}"
        assert ("not class-specific" in line) == (not spec.class_specific)


def test_the_test_table_is_one_column_per_distinct_preset_so_it_needs_no_scrolling():
    ev = {"thresholds": {"balanced": 0.1740001, "screening": 0.174},
          "metrics": {p: {k: {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6} for k in model_card.CARD_METRICS}
                      for p in ("balanced", "screening")}}
    rows = model_card.card_metric_rows(ev, "balanced")
    assert [list(r) for r in rows] == [["metric", "balanced = screening (0.174)"]] * len(model_card.CARD_METRICS)
    ev["thresholds"]["screening"] = 0.1
    assert list(model_card.card_metric_rows(ev, "balanced")[0]) == ["metric", "balanced (0.174)", "screening (0.100)"]


def test_coinciding_presets_are_said_to_be_one_choice_on_the_card():
    meta = resources.model_meta(MODELS[0])
    same = replace(meta, thresholds={"balanced": 0.2, "screening": 0.2})
    assert any("balanced and screening are the same threshold" in n for n in model_card.threshold_notes(same))
    apart = replace(meta, thresholds={"balanced": 0.3, "screening": 0.2})
    assert not any("same threshold" in n for n in model_card.threshold_notes(apart))
