"""Which validation data the temperature and thresholds are fitted on.

Validation carved from train is nearly separable (AUC > 0.999): a threshold fitted on it
lands wherever the few overlapping images happen to fall, and a temperature fitted on it is
over-confident on images that look different. Pooling the clean set with its simulated
acquisition shifts (`robustness.CORRUPTIONS`) gives the fit harder, overlapping examples,
but it could as well distort a fit that was fine. So the choice is itself made on
validation: leave each shift out in turn, fit both ways on what remains, score the held-out
shift. Test data is never read.
"""
from __future__ import annotations

import numpy as np

from .calibration import OperatingPoint, calibrated, fit_operating_point
from .robustness import balanced_log_loss

__all__ = ["CALIBRATION_RULE", "MARGIN", "choose_operating_point", "leave_one_shift_out"]

# A change must clearly help, as with the horizontal-flip decision.
MARGIN = 0.01
CALIBRATION_RULE = ("fit the temperature and thresholds on clean plus simulated-shift validation only if, leaving each "
                    "shift out in turn, that lowers the mean held-out balanced log loss by more than 1% against "
                    "fitting on clean validation alone")


def _pooled(cond_logits: dict[str, np.ndarray], labels: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([cond_logits[k] for k in names]), np.tile(np.asarray(labels), len(names))


def _held_out_score(fit: OperatingPoint, logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    probs = calibrated(logits, fit.temperature)
    y = np.asarray(labels).astype(bool)
    called = probs >= fit.thresholds["balanced"]
    return {"balanced_log_loss": balanced_log_loss(y, probs),
            "balanced_accuracy": float((called[y].mean() + (~called[~y]).mean()) / 2),
            "temperature": fit.temperature, "balanced_threshold": fit.thresholds["balanced"]}


def leave_one_shift_out(cond_logits: dict[str, np.ndarray], labels: np.ndarray) -> dict:
    """Per held-out shift: how the clean-only fit and the pooled fit (clean plus the other
    shifts) score on it."""
    shifts = [k for k in cond_logits if k != "clean"]
    if "clean" not in cond_logits or not shifts:
        raise ValueError("need the clean condition and at least one shift")
    clean_fit = fit_operating_point(cond_logits["clean"], labels)
    folds = {}
    for held in shifts:
        pooled_fit = fit_operating_point(*_pooled(cond_logits, labels, [k for k in cond_logits if k != held]))
        folds[held] = {"clean": _held_out_score(clean_fit, cond_logits[held], labels),
                       "pooled": _held_out_score(pooled_fit, cond_logits[held], labels)}
    mean = {way: {m: float(np.mean([f[way][m] for f in folds.values()])) for m in ("balanced_log_loss", "balanced_accuracy")}
            for way in ("clean", "pooled")}
    return {"folds": folds, "mean_held_out": mean}


def choose_operating_point(cond_logits: dict[str, np.ndarray], labels: np.ndarray) -> tuple[OperatingPoint, dict]:
    """The operating point the rule picks, fitted on all of its data, and the record of why."""
    record = leave_one_shift_out(cond_logits, labels)
    loss = {way: record["mean_held_out"][way]["balanced_log_loss"] for way in ("clean", "pooled")}
    pooled = loss["pooled"] < (1 - MARGIN) * loss["clean"]
    names = list(cond_logits) if pooled else ["clean"]
    fit = fit_operating_point(*_pooled(cond_logits, labels, names))
    return fit, {"rule": CALIBRATION_RULE, "fitted_on": names, **record}
