"""Logistic recalibration of a model's logit on a small labelled sample (Cox 1958):
P(pneumonia) = sigmoid(intercept + slope * logit), where `logit` is the source-calibrated
logit the model already reports (its raw logit over the validation temperature).

Why this shape: a new site keeps the model's ranking but not its probability scale, and the
parsimonious updates (intercept, or intercept and slope) are what a sample of tens of films
can support (Steyerberg et al., Stat Med 2004; Van Calster et al., J Clin Epidemiol 2016);
a flexible curve (isotonic, splines) needs hundreds of events.

Why Firth's penalty (Firth 1993; Heinze & Schemper, Stat Med 2002): a good model on a small
sample often separates the classes perfectly, and then the plain maximum-likelihood slope is
infinite. Firth's bias-reducing penalty always gives finite estimates and, on large samples,
the same answer as plain logistic regression.

Why the slope rule: a parameter needs about ten events of the rarer class (Peduzzi et al.,
J Clin Epidemiol 1996), so the slope is fitted only when the sample holds at least
`SLOPE_MIN_PER_CLASS` films of each class; below that only the intercept moves and the
slope stays at 1 (recalibration in the large).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Recalibration", "SLOPE_MIN_PER_CLASS", "RECALIBRATION_RULE", "fit_recalibration", "logit", "sigmoid",
           "prior_shift"]

SLOPE_MIN_PER_CLASS = 20
RECALIBRATION_RULE = (f"Firth-penalised logistic regression of the label on the model's logit: intercept and slope when "
                      f"the sample holds at least {SLOPE_MIN_PER_CLASS} films of each class (10 per parameter), "
                      "otherwise the intercept alone with the slope fixed at 1")


def sigmoid(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


def logit(p: float | np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Recalibration:
    """P = sigmoid(intercept + slope * logit)."""
    intercept: float
    slope: float
    slope_fitted: bool

    def probability(self, logits: np.ndarray) -> np.ndarray:
        return sigmoid(self.intercept + self.slope * np.asarray(logits, dtype=np.float64))


def _firth(design: np.ndarray, offset: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-9) -> np.ndarray:
    """Newton-Raphson on Firth's penalised log-likelihood l(b) + 0.5 log|I(b)|, with step halving."""
    beta = np.zeros(design.shape[1])

    def penalised(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        eta = offset + design @ b
        p = sigmoid(eta)
        w = np.clip(p * (1 - p), 1e-12, None)
        info = design.T @ (design * w[:, None])
        sign, logdet = np.linalg.slogdet(info)
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        return ll + 0.5 * logdet, p, w, info

    value, p, w, info = penalised(beta)
    for _ in range(max_iter):
        inv = np.linalg.inv(info)
        hat = w * np.einsum("ij,jk,ik->i", design, inv, design)
        step = inv @ (design.T @ (y - p + hat * (0.5 - p)))
        for _ in range(30):
            candidate = penalised(beta + step)
            if candidate[0] >= value - 1e-12:
                break
            step = step / 2
        beta = beta + step
        value, p, w, info = candidate
        if np.max(np.abs(step)) < tol:
            break
    return beta


def fit_recalibration(logits: np.ndarray, labels: np.ndarray, fit_slope: bool | None = None) -> Recalibration:
    """Intercept (and slope, by `SLOPE_MIN_PER_CLASS` unless `fit_slope` says) on labelled logits."""
    x = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need one logit per label, got shapes {x.shape} and {y.shape}")
    if len(np.unique(y)) != 2:
        raise ValueError("recalibration needs films of both classes")
    if fit_slope is None:
        fit_slope = min(int(y.sum()), int(len(y) - y.sum())) >= SLOPE_MIN_PER_CLASS
    if fit_slope:
        a, b = _firth(np.column_stack([np.ones_like(x), x]), np.zeros_like(x), y)
        return Recalibration(float(a), float(b), True)
    (a,) = _firth(np.ones((len(x), 1)), x, y)
    return Recalibration(float(a), 1.0, False)


def prior_shift(recalibration: Recalibration, sample_prevalence: float, site_prevalence: float) -> Recalibration:
    """Moves the intercept from the sample's pneumonia prevalence to the site's (Bayes' rule on
    the odds), for a sample that was not drawn as consecutive cases (e.g. enriched)."""
    for name, v in (("sample prevalence", sample_prevalence), ("site prevalence", site_prevalence)):
        if not 0.0 < v < 1.0:
            raise ValueError(f"{name} must be strictly between 0 and 1, not {v}")
    shift = float(logit(site_prevalence) - logit(sample_prevalence))
    return Recalibration(recalibration.intercept + shift, recalibration.slope, recalibration.slope_fitted)
