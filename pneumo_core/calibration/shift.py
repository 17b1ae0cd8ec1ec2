"""Which validation data the temperature and thresholds are fitted on.

Validation carved from train is nearly separable (AUC > 0.999): a threshold fitted on it
lands wherever the few overlapping images happen to fall, and a temperature fitted on it is
over-confident on images that look different. Pooling the clean set with its simulated
acquisition shifts (`robustness.CORRUPTIONS`) gives the fit harder, overlapping examples,
but it could as well distort a fit that was fine. So the choice is itself made on
validation, held out twice over: for each shift, and within it for each patient-grouped
fold of the images, fit both ways on the other shifts and the other patients, then score
the held-out shift on the held-out patients. Test data is never read.
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..stats.metrics import balanced_log_loss
from .source import OperatingPoint, calibrated, fit_operating_point

__all__ = ["CALIBRATION_RULE", "MARGIN", "IMAGE_FOLDS", "choose_operating_point", "leave_one_shift_out"]

# A change must clearly help, as with the horizontal-flip decision.
MARGIN = 0.01
IMAGE_FOLDS = 5
CALIBRATION_RULE = ("fit the temperature and thresholds on clean plus simulated-shift validation only if, with each shift "
                    "and each patient-grouped fold of the images held out in turn, that lowers the held-out balanced "
                    "log loss by more than 1% on average over the shifts (each shift's relative change counting "
                    "equally) and does not lower the mean held-out balanced accuracy; otherwise fit on clean "
                    "validation alone")


def _pooled(cond_logits: dict[str, np.ndarray], labels: np.ndarray, names: list[str],
            rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(labels)) if rows is None else rows
    return np.concatenate([cond_logits[k][rows] for k in names]), np.tile(np.asarray(labels)[rows], len(names))


def _image_folds(labels: np.ndarray, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Patient-grouped, class-stratified folds; as many as the rarer class has patients, up to IMAGE_FOLDS."""
    y = np.asarray(labels)
    n = min(IMAGE_FOLDS, *(len(np.unique(groups[y == c])) for c in (0, 1)))
    if n < 2:
        raise ValueError("need at least two patients of each class to hold images out")
    return list(StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=0).split(np.zeros(len(y)), y, groups))


def _score(probs: np.ndarray, called: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    y = np.asarray(labels).astype(bool)
    return {"balanced_log_loss": balanced_log_loss(y, probs),
            "balanced_accuracy": float((called[y].mean() + (~called[~y]).mean()) / 2)}


def leave_one_shift_out(cond_logits: dict[str, np.ndarray], labels: np.ndarray, groups: np.ndarray | None = None,
                        extra: dict[str, OperatingPoint] | None = None) -> dict:
    """Per held-out shift, the out-of-fold scores of the clean-only fit and of the pooled fit
    (clean plus the other shifts), each fitted without the held-out patients. `groups` is the
    patient of each image (default: every image its own); `extra` operating points, fixed
    beforehand, are scored on each whole held-out shift as they stand (they may have been
    fitted on these very images, so their scores are not held out)."""
    shifts = [k for k in cond_logits if k != "clean"]
    if "clean" not in cond_logits or not shifts:
        raise ValueError("need the clean condition and at least one shift")
    y = np.asarray(labels)
    folds = _image_folds(y, np.arange(len(y)) if groups is None else np.asarray(groups))
    record = {}
    for held in shifts:
        ways = {"clean": ["clean"], "pooled": [k for k in cond_logits if k != held]}
        probs = {w: np.empty(len(y)) for w in ways}
        called = {w: np.empty(len(y), bool) for w in ways}
        for fit_rows, out_rows in folds:
            for way, names in ways.items():
                fit = fit_operating_point(*_pooled(cond_logits, y, names, fit_rows))
                probs[way][out_rows] = calibrated(cond_logits[held][out_rows], fit.temperature)
                called[way][out_rows] = probs[way][out_rows] >= fit.thresholds["balanced"]
        record[held] = {w: _score(probs[w], called[w], y) for w in ways}
        for name, point in (extra or {}).items():
            p = calibrated(cond_logits[held], point.temperature)
            record[held][name] = _score(p, p >= point.thresholds["balanced"], y)
    ways = list(next(iter(record.values())))
    mean = {w: {m: float(np.mean([f[w][m] for f in record.values()])) for m in ("balanced_log_loss", "balanced_accuracy")}
            for w in ways}
    change = float(np.mean([f["pooled"]["balanced_log_loss"] / f["clean"]["balanced_log_loss"] - 1 for f in record.values()]))
    return {"folds": record, "image_folds": len(folds), "mean_held_out": mean, "mean_relative_loss_change": change}


def choose_operating_point(cond_logits: dict[str, np.ndarray], labels: np.ndarray, groups: np.ndarray | None = None,
                           extra: dict[str, OperatingPoint] | None = None) -> tuple[OperatingPoint, dict]:
    """The operating point the rule picks, fitted on all of its data, and the record of why."""
    record = leave_one_shift_out(cond_logits, labels, groups, extra)
    acc = {w: record["mean_held_out"][w]["balanced_accuracy"] for w in ("clean", "pooled")}
    pooled = record["mean_relative_loss_change"] < -MARGIN and acc["pooled"] >= acc["clean"]
    names = list(cond_logits) if pooled else ["clean"]
    fit = fit_operating_point(*_pooled(cond_logits, labels, names))
    return fit, {"rule": CALIBRATION_RULE, "fitted_on": names, **record}
