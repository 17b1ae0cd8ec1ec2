"""Classification metrics with percentile-bootstrap 95% confidence intervals.

Point estimates come from scikit-learn; the bootstrap resamples with replacement
(>= 1000 times) and recomputes every metric on each resample. Given `groups` (patient
ids), it resamples whole patients: one child's films are correlated, and resampling them
one by one would make the intervals too narrow.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score, roc_curve

from .decision import calls_pneumonia

__all__ = ["confusion_counts", "point_metrics", "metrics_with_ci", "threshold_metrics_ci", "expected_calibration_error", "curves",
           "per_class_metrics", "balanced_log_loss"]


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """Equal-width bins over P(pneumonia), weighted by bin size."""
    labels, probs = np.asarray(labels, float), np.asarray(probs, float)
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(labels[m].mean() - probs[m].mean())
    return float(ece)


def balanced_log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean of the per-class log losses: prevalence-free, like the thresholds."""
    p = np.clip(np.asarray(probs, float), 1e-7, 1 - 1e-7)
    y = np.asarray(labels).astype(bool)
    return float((-np.log(p[y]).mean() - np.log(1 - p[~y]).mean()) / 2)


def confusion_counts(labels: np.ndarray, probs: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """(TN, FP, FN, TP), calling PNEUMONIA when probability >= threshold."""
    y = np.asarray(labels).astype(bool)
    pred = calls_pneumonia(probs, threshold)
    return tuple(int(v) for v in _counts(y, pred))


def _counts(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    """TN, FP, FN, TP along the last axis (one resample per row when 2-D)."""
    return (~y & ~pred).sum(-1), (~y & pred).sum(-1), (y & ~pred).sum(-1), (y & pred).sum(-1)


def point_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    rates = _rates(*confusion_counts(labels, probs, threshold))
    both = len(np.unique(labels)) == 2
    return {
        **{k: float(rates[k]) for k in ("accuracy", "precision", "recall", "specificity", "f1", "npv")},
        "roc_auc": float(roc_auc_score(labels, probs)) if both else float("nan"),
        "average_precision": float(average_precision_score(labels, probs)) if both else float("nan"),
        "brier": float(brier_score_loss(labels, probs)),
        "ece": expected_calibration_error(labels, probs),
    }


def per_class_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """Precision/recall/F1/support for each class, treating that class as positive."""
    tn, fp, fn, tp = confusion_counts(labels, probs, threshold)
    m = {k: float(v) for k, v in _rates(tn, fp, fn, tp).items()}
    return {
        "PNEUMONIA": {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"], "support": tp + fn},
        "NORMAL": {"precision": m["npv"], "recall": m["specificity"], "f1": m["f1_normal"], "support": tn + fp},
    }


def _group_members(n: int, groups: Sequence | None) -> list[np.ndarray]:
    """Indices of each resampling unit: one per image, or one per group (patient)."""
    if groups is None:
        return [np.array([i]) for i in range(n)]
    keys: dict = {}
    for i, g in enumerate(groups):
        keys.setdefault(g, []).append(i)
    return [np.array(v) for v in keys.values()]


def _draws(n_units: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_units) indices of the units drawn in each resample; shared by both
    estimators so they agree exactly."""
    return np.random.default_rng(seed).integers(0, n_units, (n_boot, n_units))


def metrics_with_ci(labels: np.ndarray, probs: np.ndarray, threshold: float,
                    n_boot: int = 1000, seed: int = 0, groups: Sequence | None = None) -> dict[str, dict[str, float]]:
    """{metric: {value, ci_low, ci_high}} plus the confusion matrix at `threshold` and a 95%
    interval per cell (`confusion_matrix_ci`, [[[TN lo, hi], [FP lo, hi]], [[FN ..], [TP ..]]]).
    Under a patient bootstrap the resampled image count varies, so the cell intervals
    include that variation."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    point = point_metrics(labels, probs, threshold)
    samples: dict[str, list[float]] = {k: [] for k in point}
    counts = []
    members = _group_members(len(labels), groups)
    for draw in _draws(len(members), n_boot, seed):
        idx = np.concatenate([members[u] for u in draw])
        for k, v in point_metrics(labels[idx], probs[idx], threshold).items():
            samples[k].append(v)
        counts.append(confusion_counts(labels[idx], probs[idx], threshold))
    out: dict = {}
    for k, v in point.items():
        arr = np.asarray(samples[k], dtype=float)
        arr = arr[~np.isnan(arr)]
        lo, hi = (np.percentile(arr, [2.5, 97.5]) if arr.size else (np.nan, np.nan))
        out[k] = {"value": v, "ci_low": float(lo), "ci_high": float(hi)}
    tn, fp, fn, tp = confusion_counts(labels, probs, threshold)
    out["confusion_matrix"] = [[tn, fp], [fn, tp]]
    counts = np.asarray(counts)  # one (TN, FP, FN, TP) row per resample; whole counts, widest side of each quantile
    lo, hi = np.percentile(counts, 2.5, axis=0, method="lower"), np.percentile(counts, 97.5, axis=0, method="higher")
    out["confusion_matrix_ci"] = np.stack([lo, hi], axis=1).astype(int).reshape(2, 2, 2).tolist()
    out["n_bootstrap"] = n_boot
    out["bootstrap_unit"] = "image" if groups is None else f"patient ({len(members)})"
    return out


def _rates(tn, fp, fn, tp) -> dict[str, np.ndarray]:
    """Every threshold-dependent metric from confusion counts (scalars or one per resample);
    NaN where a denominator is zero."""
    def div(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)
    return {
        "accuracy": div(tp + tn, tp + tn + fp + fn),
        "recall": div(tp, tp + fn),
        "specificity": div(tn, tn + fp),
        "precision": div(tp, tp + fp),
        "npv": div(tn, tn + fn),
        "f1": div(2 * tp, 2 * tp + fp + fn),
        "f1_normal": div(2 * tn, 2 * tn + fn + fp),
    }


def threshold_metrics_ci(labels: np.ndarray, probs: np.ndarray, threshold: float,
                         n_boot: int = 1000, seed: int = 0, groups: Sequence | None = None) -> dict[str, dict[str, float]]:
    """{metric: {value, ci_low, ci_high}} for the threshold-dependent metrics only
    (accuracy, recall, specificity, precision, npv, f1, and `f1_normal`: F1 with NORMAL
    as the positive class), percentile bootstrap over images, or over whole patients given
    `groups`. Same estimator as
    `metrics_with_ci`, vectorised over resamples (~20 ms for 624 images x 1000 instead of
    seconds), so the app can recompute it on every slider move.

    Example:
        >>> m = threshold_metrics_ci([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6], 0.5, n_boot=200)
        >>> m["recall"]["value"]
        0.5
    """
    y = np.asarray(labels).astype(bool)
    pred = calls_pneumonia(probs, threshold)

    point = _rates(*_counts(y, pred))
    members = _group_members(len(y), groups)
    per_unit = np.array([_counts(y[m], pred[m]) for m in members])  # (units, 4): tn, fp, fn, tp
    boot = _rates(*per_unit[_draws(len(members), n_boot, seed)].sum(axis=1).T)
    out = {}
    for k, v in point.items():
        s = boot[k][~np.isnan(boot[k])]
        lo, hi = np.percentile(s, [2.5, 97.5]) if s.size else (np.nan, np.nan)
        out[k] = {"value": float(v), "ci_low": float(lo), "ci_high": float(hi)}
    return out


def curves(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> dict[str, dict[str, list[float]]]:
    """ROC, PR and reliability-diagram points, for plotting without the raw data."""
    fpr, tpr, thr = roc_curve(labels, probs)
    prec, rec, pthr = precision_recall_curve(labels, probs)
    labels, probs = np.asarray(labels, float), np.asarray(probs, float)
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    rel = {"bin_center": [], "mean_predicted": [], "fraction_positive": [], "count": []}
    for b in range(n_bins):
        m = bins == b
        if m.any():
            rel["bin_center"].append((b + 0.5) / n_bins)
            rel["mean_predicted"].append(float(probs[m].mean()))
            rel["fraction_positive"].append(float(labels[m].mean()))
            rel["count"].append(int(m.sum()))
    return {
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": np.minimum(thr, 1.0).tolist()},
        "pr": {"precision": prec.tolist(), "recall": rec.tolist(), "threshold": pthr.tolist() + [1.0]},
        "calibration": rel,
    }
