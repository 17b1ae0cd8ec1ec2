"""The site study: how good is site calibration from n labelled films? A measurement, not a
site: a labelled split (by default Kermany's test split) stands in for a new site, and the
protocol, fixed before it is run, is:

For each sample size n and each of `repeats` draws: take whole patients at random, class by
class, until each class holds its share of n (the split's prevalence; at least
`site.MIN_PER_CLASS` films of each, the least a profile accepts); fit the recalibration
exactly as `calibrate-site` does; score every film whose patient was not drawn; record
accuracy, sensitivity, specificity, F1, ECE and Brier at the balanced threshold. Report the
mean and the 2.5/97.5 percentiles over the draws.

Also each film's out-of-fold probability from 5 patient-grouped folds (each fold scored by
a fit on the other four), so a whole labelled split can be shown under a site calibration
without any film being scored by a fit that saw it or its patient.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..stats.metrics import point_metrics
from .site import MIN_PER_CLASS, fit_site_recalibration, out_of_fold_probabilities, site_thresholds

__all__ = ["STUDY_PROTOCOL", "STUDY_METRICS", "draw_patients", "draw_sample", "run_site_study"]

STUDY_METRICS = ("accuracy", "recall", "specificity", "f1", "ece", "brier")
STUDY_PROTOCOL = (
    "For each sample size n, {repeats} draws: whole patients are drawn at random, class by class, until each class "
    "holds its share of n at the split's prevalence (at least " + str(MIN_PER_CLASS) + " films of each class); the "
    "site recalibration is fitted on that sample exactly as calibrate-site fits it, and every film whose patient was "
    "not drawn is scored with it at the balanced threshold (site-calibrated P >= 0.5). Reported: the mean and the "
    "2.5th/97.5th percentiles over the draws. Out-of-fold probabilities: 5 patient-grouped folds, each scored by a "
    "fit on the other four.")


def draw_patients(rng: np.random.Generator, labels: np.ndarray, patients: np.ndarray,
                  wants: Sequence[tuple[int, int]]) -> np.ndarray:
    """Boolean mask of whole patients drawn at random, class by class in the order given,
    until each class holds its wanted number of films (a patient's last films may overshoot
    it by a few). The one draw of the site and adaptation studies."""
    labels, patients = np.asarray(labels), np.asarray(patients)
    take = np.zeros(len(labels), bool)
    for c, want in wants:
        members = np.flatnonzero(labels == c)
        got = 0
        for pid in rng.permutation(np.unique(patients[members])):
            if got >= want:
                break
            rows = members[patients[members] == pid]
            take[rows] = True
            got += len(rows)
    return take


def draw_sample(rng: np.random.Generator, labels: np.ndarray, patients: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of a prevalence-preserving sample of whole patients with about n films."""
    labels = np.asarray(labels)
    return draw_patients(rng, labels, patients,
                         [(c, max(MIN_PER_CLASS, int(round(n * np.mean(labels == c))))) for c in (0, 1)])


def _summary(values: np.ndarray) -> dict[str, float]:
    v = values[~np.isnan(values)]
    return {"mean": float(v.mean()), "p2_5": float(np.percentile(v, 2.5)), "p97_5": float(np.percentile(v, 97.5))}


def run_site_study(logits: np.ndarray, labels: np.ndarray, patients: Sequence[str], sizes: Sequence[int] = (25, 50, 100, 200),
                   repeats: int = 200, seed: int = 0) -> dict:
    """The study's record: per size, each metric's mean and 95% range over the draws, and the
    out-of-fold probabilities of every film. Fails loudly if a draw would score a film of a
    drawn patient (it cannot, by construction; the check keeps it so)."""
    x, y, g = np.asarray(logits, np.float64), np.asarray(labels, int), np.asarray(patients)
    threshold = site_thresholds()[0]["balanced"]
    rng = np.random.default_rng(seed)
    by_size = {}
    for n in sizes:
        rows, slopes, sample_sizes = [], 0, []
        for _ in range(repeats):
            fit_mask = draw_sample(rng, y, g, n)
            scored = ~np.isin(g, g[fit_mask])
            if (scored & fit_mask).any() or np.isin(g[scored], g[fit_mask]).any():
                raise AssertionError("a scored film shares a patient with the fitting sample")
            fit = fit_site_recalibration(x[fit_mask], y[fit_mask])
            m = point_metrics(y[scored], fit.probability(x[scored]), threshold)
            rows.append([m[k] for k in STUDY_METRICS])
            slopes += fit.slope_fitted
            sample_sizes.append(int(fit_mask.sum()))
        arr = np.asarray(rows)
        by_size[str(n)] = {"films_drawn": _summary(np.asarray(sample_sizes, float)), "slope_fitted_share": slopes / repeats,
                           **{k: _summary(arr[:, i]) for i, k in enumerate(STUDY_METRICS)}}
    oof, folds = out_of_fold_probabilities(x, y, g, n_folds=5, seed=seed)
    return {"protocol": STUDY_PROTOCOL.format(repeats=repeats), "repeats": repeats, "seed": seed,
            "threshold": threshold, "sizes": by_size,
            "out_of_fold": {"folds": int(folds.max()) + 1, "probabilities": oof.tolist(), "fold": folds.tolist()}}
