"""A site's pneumonia prevalence from unlabelled films (Saerens, Latinne and Decaestecker,
Neural Computation 2002).

The model's posteriors are calibrated at the source's class balance. If the site's
prevalence differs, Bayes' rule moves each posterior by the ratio of the priors; EM
alternates that move with re-estimating the prior as the mean moved posterior, and
converges to the maximum-likelihood prevalence. It assumes the films of each class look
as they did at the source (label shift only), which is why it runs on adapted posteriors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PrevalenceEstimate", "estimate_prevalence", "shift_posteriors"]

_EPS = 1e-6


def shift_posteriors(posteriors: np.ndarray, source_prior: float, target_prior: float) -> np.ndarray:
    """P(pneumonia | film) under `target_prior`, from posteriors calibrated under `source_prior`."""
    p = np.clip(np.asarray(posteriors, np.float64), _EPS, 1 - _EPS)
    a = target_prior / source_prior * p
    b = (1 - target_prior) / (1 - source_prior) * (1 - p)
    return a / (a + b)


@dataclass(frozen=True)
class PrevalenceEstimate:
    prevalence: float
    posteriors: np.ndarray  # each film's P(pneumonia) at that prevalence
    iterations: int


def estimate_prevalence(posteriors: np.ndarray, source_prior: float, tol: float = 1e-6,
                        max_iter: int = 1000) -> PrevalenceEstimate:
    """Maximum-likelihood prevalence of the films whose source-calibrated posteriors are given."""
    if not 0.0 < source_prior < 1.0:
        raise ValueError(f"the source prior must be strictly between 0 and 1, not {source_prior}")
    p = np.asarray(posteriors, np.float64)
    if p.ndim != 1 or not len(p):
        raise ValueError("need one posterior per film")
    prior = source_prior
    for i in range(1, max_iter + 1):
        moved = shift_posteriors(p, source_prior, prior)
        new = float(np.clip(moved.mean(), _EPS, 1 - _EPS))
        if abs(new - prior) < tol:
            return PrevalenceEstimate(new, shift_posteriors(p, source_prior, new), i)
        prior = new
    return PrevalenceEstimate(prior, shift_posteriors(p, source_prior, prior), max_iter)
