"""Tests for pneumo_core.stats.metrics: the vectorised bootstrap the app recomputes on every slider move.

Each test name says the failure it guards against.
"""
from __future__ import annotations

import numpy as np
import pytest

from pneumo_core.stats.metrics import metrics_with_ci, per_class_metrics, threshold_metrics_ci

THRESHOLD_METRICS = ("accuracy", "recall", "specificity", "precision", "npv", "f1")


def _data(n: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels, np.clip(0.4 * labels + 0.6 * rng.random(n), 0, 1)


@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.9])
def test_vectorised_bootstrap_gives_the_same_cis_as_the_reference_loop(threshold):
    labels, probs = _data()
    fast, ref = threshold_metrics_ci(labels, probs, threshold, 200), metrics_with_ci(labels, probs, threshold, 200)
    for k in THRESHOLD_METRICS:
        assert fast[k] == pytest.approx(ref[k], nan_ok=True)


def test_normal_f1_is_f1_with_normal_as_the_positive_class():
    labels, probs = _data()
    m = threshold_metrics_ci(labels, probs, 0.5, 100)
    assert m["f1_normal"]["value"] == pytest.approx(per_class_metrics(labels, probs, 0.5)["NORMAL"]["f1"])
    assert m["f1_normal"]["ci_low"] <= m["f1_normal"]["value"] <= m["f1_normal"]["ci_high"]


def test_a_metric_with_no_denominator_is_nan_not_a_crash():
    # threshold above every probability: nothing called PNEUMONIA, so PPV is undefined
    m = threshold_metrics_ci(np.array([0, 1, 1, 0]), np.array([0.1, 0.2, 0.3, 0.4]), 0.9, 50)
    assert np.isnan(m["precision"]["value"]) and np.isnan(m["precision"]["ci_low"])
    assert m["recall"]["value"] == 0.0 and m["specificity"]["value"] == 1.0


def test_patient_bootstrap_is_wider_when_one_childs_films_repeat():
    """Several films of one child are not independent evidence: resampling images one by
    one would report intervals that are too narrow."""
    rng = np.random.default_rng(4)
    base_y = rng.integers(0, 2, 60)
    base_p = np.clip(base_y * 0.3 + rng.random(60) * 0.7, 0, 1)
    labels, probs = np.repeat(base_y, 5), np.repeat(base_p, 5)  # every child filmed five times
    patients = np.repeat(np.arange(60), 5)
    per_image = metrics_with_ci(labels, probs, 0.5, n_boot=300)["accuracy"]
    per_patient = metrics_with_ci(labels, probs, 0.5, n_boot=300, groups=patients)["accuracy"]
    assert per_patient["ci_high"] - per_patient["ci_low"] > 1.5 * (per_image["ci_high"] - per_image["ci_low"])
    fast = threshold_metrics_ci(labels, probs, 0.5, 300, groups=patients)["accuracy"]
    assert fast == pytest.approx(per_patient)
