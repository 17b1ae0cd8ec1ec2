"""Temperature and thresholds: the numbers that turn a logit into a decision."""
import numpy as np
import pytest

from pneumo_core.calibration import calibrated, fit_temperature, screening_threshold, youden_threshold
from pneumo_core.stats.metrics import expected_calibration_error, metrics_with_ci, point_metrics


def test_temperature_recovers_a_known_overconfidence():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20000)
    labels = rng.random(20000) < 1 / (1 + np.exp(-true_logits))
    assert fit_temperature(true_logits * 3.0, labels) == pytest.approx(3.0, rel=0.05)


def test_youden_threshold_separates_separable_classes():
    labels = np.array([0] * 50 + [1] * 50)
    probs = np.r_[np.linspace(0.0, 0.3, 50), np.linspace(0.6, 1.0, 50)]
    t = youden_threshold(labels, probs)
    assert 0.3 < t <= 0.6
    assert point_metrics(labels, probs, t)["accuracy"] == 1.0


def test_screening_threshold_keeps_98_percent_sensitivity():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(300), np.ones(500)].astype(int)
    probs = np.r_[rng.beta(2, 5, 300), rng.beta(5, 2, 500)]
    t = screening_threshold(labels, probs, 0.98)
    assert point_metrics(labels, probs, t)["recall"] >= 0.98
    higher = np.sort(probs[labels == 1])
    higher = higher[higher > t][0]  # the next candidate up must lose sensitivity
    assert point_metrics(labels, probs, higher)["recall"] < 0.98


def test_ece_is_zero_for_perfect_calibration_and_large_for_overconfidence():
    rng = np.random.default_rng(2)
    p = rng.random(50000)
    y = rng.random(50000) < p
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, (p > 0.5).astype(float)) > 0.2


def test_bootstrap_interval_brackets_the_point_estimate():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.4 + rng.random(300) * 0.6, 0, 1)
    m = metrics_with_ci(y, p, 0.5, n_boot=1000)
    for k in ("accuracy", "recall", "specificity", "roc_auc", "f1", "brier", "ece"):
        assert m[k]["ci_low"] <= m[k]["value"] <= m[k]["ci_high"], k
        assert m[k]["ci_high"] - m[k]["ci_low"] > 0
    assert sum(map(sum, m["confusion_matrix"])) == 300 and m["n_bootstrap"] == 1000
    for row, row_ci in zip(m["confusion_matrix"], m["confusion_matrix_ci"]):
        for count, (lo, hi) in zip(row, row_ci):
            assert lo <= count <= hi and hi > lo and isinstance(lo, int) and isinstance(hi, int)


def test_calibrated_is_sigmoid_of_scaled_logit():
    assert calibrated(np.array([0.0, 2.0]), 2.0) == pytest.approx([0.5, 1 / (1 + np.exp(-1))])
