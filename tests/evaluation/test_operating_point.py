"""Tests for pneumo_core.evaluation.operating_point: a threshold's sensitivity and
specificity, with 95% intervals, in the words a clinician reads.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from pneumo_core.evaluation.operating_point import OperatingPoint, about_in_ten, operating_point
from pneumo_core.models.bundle import WEIGHTS_DIR, list_models

MODELS = list_models()


def _eval(model: str) -> dict:
    return json.loads((WEIGHTS_DIR / model / "eval_test.json").read_text())


def _count(preds: list[dict], threshold: float) -> tuple[float, float, int, int]:
    """Sensitivity and specificity counted film by film, the plainest way."""
    tp = sum(p["label"] == "PNEUMONIA" and p["probability"] >= threshold for p in preds)
    tn = sum(p["label"] == "NORMAL" and p["probability"] < threshold for p in preds)
    pos = sum(p["label"] == "PNEUMONIA" for p in preds)
    neg = sum(p["label"] == "NORMAL" for p in preds)
    return tp / pos, tn / neg, pos, neg


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.5, 0.9])
def test_figures_at_any_threshold_are_a_direct_count_of_the_shipped_predictions(model, threshold):
    op = operating_point(WEIGHTS_DIR / model, threshold)
    sens, spec, pos, neg = _count(_eval(model)["predictions"], threshold)
    assert op.sensitivity == pytest.approx(sens) and op.specificity == pytest.approx(spec)
    assert (op.n_pneumonia, op.n_normal) == (pos, neg) and op.threshold == threshold
    assert op.sensitivity_ci[0] <= op.sensitivity <= op.sensitivity_ci[1]
    assert op.specificity_ci[0] <= op.specificity <= op.specificity_ci[1]


@pytest.mark.parametrize("model", MODELS)
def test_intervals_at_a_preset_are_the_evaluations_own_patient_bootstrap(model):
    """One bootstrap: the sidebar's interval at a preset is the one eval_test.json states."""
    ev = _eval(model)
    for name, t in ev["thresholds"].items():
        op = operating_point(WEIGHTS_DIR / model, t)
        for mine, theirs in ((op.sensitivity, "recall"), (op.specificity, "specificity")):
            assert mine == pytest.approx(ev["metrics"][name][theirs]["value"])
        assert op.sensitivity_ci == pytest.approx((ev["metrics"][name]["recall"]["ci_low"],
                                                   ev["metrics"][name]["recall"]["ci_high"]))
        assert op.specificity_ci == pytest.approx((ev["metrics"][name]["specificity"]["ci_low"],
                                                   ev["metrics"][name]["specificity"]["ci_high"]))


@pytest.mark.parametrize("rate,words", [
    (0.0, "none"), (0.004, "almost none"), (0.005, "about 1 in 100"), (0.03, "about 3 in 100"),
    (0.049, "about 5 in 100"), (0.05, "about 1 in 10"), (0.38, "about 4 in 10"), (0.449, "about 4 in 10"),
    (0.45, "about 5 in 10"), (0.62, "about 6 in 10"), (0.94, "about 9 in 10"), (0.95, "about 95 in 100"),
    (0.97, "about 97 in 100"), (0.994, "about 99 in 100"), (0.995, "nearly all"), (0.9999, "nearly all"),
    (1.0, "all")])
def test_a_rate_reads_as_a_natural_frequency_never_ten_in_ten_nor_a_false_certainty(rate, words):
    """Each branch of the one rule: tens in the middle, hundreds near the ends, words at them."""
    assert about_in_ten(rate) == words


def test_no_rate_reads_as_ten_in_ten_or_zero_in_anything():
    for rate in (i / 1000 for i in range(1001)):
        words = about_in_ten(rate)
        assert "10 in 10" not in words and "100 in 100" not in words and "about 0 in" not in words, rate


def test_the_interval_keeps_the_tables_three_decimals_so_0995_is_not_rounded_to_099():
    op = OperatingPoint(0.1, 0.995, (0.987, 1.0), 0.62, (0.57, 0.67), 390, 234, "official test split")
    assert op.in_numbers().startswith("sensitivity 0.995 (0.987–1.000), specificity 0.620 (0.570–0.670)")
    assert op.in_words().startswith("finds nearly all children with pneumonia")


def test_the_words_say_who_is_found_and_who_is_over_called_with_the_numbers_beside_them():
    op = OperatingPoint(0.174, 0.88, (0.84, 0.92), 0.62, (0.57, 0.67), 390, 234, "official test split")
    assert op.in_words() == "finds about 9 in 10 children with pneumonia; over-calls about 4 in 10 healthy children"
    assert op.over_call_rate == pytest.approx(0.38)
    assert op.in_numbers() == ("sensitivity 0.880 (0.840–0.920), specificity 0.620 (0.570–0.670); official test split, "
                               "624 films (390 pneumonia, 234 normal)")


def test_no_evaluation_file_means_no_estimate(tmp_path):
    assert operating_point(tmp_path, 0.5) is None


@pytest.fixture(scope="module")
def test_split_profile():
    from pneumo_core.calibration.site import load_profile
    return load_profile(WEIGHTS_DIR / MODELS[0] / "sites" / "kermany-test.json")


def test_the_shipped_test_split_profile_is_graded_out_of_fold_never_on_its_own_fit(test_split_profile):
    study = json.loads((WEIGHTS_DIR / MODELS[0] / "site_study_test.json").read_text())["out_of_fold_evaluation"]
    for name, t in study["thresholds"].items():
        op = operating_point(WEIGHTS_DIR / MODELS[0], t, test_split_profile, shipped=True)
        sens, spec, _, _ = _count(study["predictions"], t)
        assert (op.sensitivity, op.specificity) == pytest.approx((sens, spec))
        assert op.sensitivity_ci == pytest.approx((study["metrics"][name]["recall"]["ci_low"],
                                                   study["metrics"][name]["recall"]["ci_high"]))
        assert "out of fold" in op.source
    # the profile's own (in-sample) recalibration of the source probabilities would read differently
    from pneumo_core.calibration.recalibration import logit
    ev = _eval(MODELS[0])
    in_sample = test_split_profile.probability(logit(np.array([p["probability"] for p in ev["predictions"]])))
    preds = [{**p, "probability": float(q)} for p, q in zip(ev["predictions"], in_sample)]
    op = operating_point(WEIGHTS_DIR / MODELS[0], 0.3, test_split_profile, shipped=True)
    assert (op.sensitivity, op.specificity) != pytest.approx(_count(preds, 0.3)[:2])


def test_another_sites_profile_gives_its_cross_fitted_estimate_at_its_threshold_and_nothing_elsewhere(
        test_split_profile):
    other = replace(test_split_profile, name="elsewhere", files_sha256="0" * 64)
    est = other.estimates
    op = operating_point(WEIGHTS_DIR / MODELS[0], est["threshold"], other)
    assert op.sensitivity == est["sensitivity"]["value"] and op.specificity_ci == (
        est["specificity"]["ci_low"], est["specificity"]["ci_high"])
    assert (op.n_pneumonia, op.n_normal) == (other.counts["PNEUMONIA"], other.counts["NORMAL"])
    assert "cross-fitted" in op.source and "elsewhere" not in op.source  # no uploaded name in the text
    off = [t for t in other.thresholds.values() if abs(t - est["threshold"]) > 1e-3]
    assert off and all(operating_point(WEIGHTS_DIR / MODELS[0], t, other) is None for t in off)
