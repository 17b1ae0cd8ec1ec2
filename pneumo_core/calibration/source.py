"""Temperature scaling and operating thresholds, fitted on validation data only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OperatingPoint", "THRESHOLD_RULES", "fit_operating_point", "fit_temperature", "calibrated",
           "youden_threshold", "screening_threshold"]

THRESHOLD_RULES = {"balanced": "maximises Youden's J on validation",
                   "screening": "highest threshold with validation sensitivity >= 0.98, capped at the balanced one"}


@dataclass(frozen=True)
class OperatingPoint:
    """What turns a logit into the product's probability and label: the temperature and
    the named thresholds, always fitted together on the same validation data."""
    temperature: float
    thresholds: dict[str, float]


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """One scalar T minimising validation NLL of sigmoid(logit / T) (Guo et al. 2017)."""
    import torch  # here, not at the top: the app reads site profiles before torch has loaded
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.float64)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> "torch.Tensor":
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64) / temperature))


def youden_threshold(labels: np.ndarray, probs: np.ndarray) -> float:
    """Maximises sensitivity + specificity - 1: prevalence-free, so a train-like
    validation set (74% pneumonia) does not drag it toward over-calling."""
    from sklearn.metrics import roc_curve
    fpr, tpr, thr = roc_curve(labels, probs)
    j = tpr - fpr
    best = np.flatnonzero(j == j.max())
    i = best[len(best) // 2]  # middle of a plateau, not its edge
    return float(np.clip(thr[i], 0.0, 1.0))


def screening_threshold(labels: np.ndarray, probs: np.ndarray, min_sensitivity: float = 0.98) -> float:
    """Highest threshold whose validation sensitivity is still >= min_sensitivity."""
    pos = np.sort(np.asarray(probs)[np.asarray(labels) == 1])
    k = int(np.floor((1 - min_sensitivity) * len(pos)))  # positives we may miss
    return float(pos[k])  # predicting p >= pos[k] keeps len(pos) - k positives


def fit_operating_point(logits: np.ndarray, labels: np.ndarray) -> OperatingPoint:
    """Temperature first, then both thresholds on the calibrated probabilities."""
    temperature = fit_temperature(logits, labels)
    probs = calibrated(logits, temperature)
    balanced = youden_threshold(labels, probs)
    # A screening preset must never be less sensitive than the default one.
    return OperatingPoint(temperature, {"balanced": balanced,
                                        "screening": min(screening_threshold(labels, probs), balanced)})
