"""Where should a site's threshold sit, from its own unlabelled films? Measured by draws of
whole patients at a fixed prevalence: fit the operating point on the draw's scores (never
their labels), call every film of the other patients at it, record sensitivity and
specificity.

- `SELECTION_RULE` chooses the method on validation films under simulated acquisition shifts
  (`site_shifts.SITE_SHIFTS`); it was committed before the comparison first ran.
- `TEST_PROTOCOL` is the one run on the official test split with the chosen method; it was
  committed before that run and not changed after.

Every film's score under each shift is computed once (`score_cache`); a draw is a fit on
100 numbers, so the whole study runs on a CPU.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.special import expit

from ..adaptation.prevalence import estimate_prevalence
from ..adaptation.score_mixture import MIXTURES, ScoreMixture, SourceScores, fit_operating_point
from .adaptation_study import DRAW_SIZE, PREVALENCES, call_rates, draws_at

__all__ = ["SELECTION_RULE", "TEST_PROTOCOL", "VALIDATION_DRAWS", "TEST_DRAWS", "SAFETY_MARGIN", "NONE", "CANDIDATES",
           "ROW", "run_draws", "summarise", "choose"]

SAFETY_MARGIN = 0.02
TIE = 0.005
VALIDATION_DRAWS = 20
TEST_DRAWS = 200
NONE = "none"
CANDIDATES: tuple[str, ...] = (NONE, *(m.name for m in MIXTURES))  # simplest first: the tie-break order
FALLBACK_METHOD = "bn-last48-weighted"

SELECTION_RULE = (
    "On validation films, clean and under each simulated acquisition shift of SITE_SHIFTS (24: the 8 of the earlier "
    "study and 16 that move this model's scores: exposure, contrast, brightness, noise, blur, resolution, JPEG, "
    "edge enhancement, equalisation, collimation, a frame, burned-in markers, and two combinations), and under each "
    "shift of the clean films' scores of SCORE_SHIFTS (6: both classes up or down by 3, normal films up by 5, "
    "pneumonia films down by 5, all scores halved, normal scores spread twice as wide), at each "
    f"prevalence ({', '.join(f'{p:.0%}' for p in PREVALENCES)}), {VALIDATION_DRAWS} draws of whole patients "
    f"({DRAW_SIZE} films) are fitted on (their scores only) and every film of the other patients is called at the "
    "fitted threshold. A method is safe when, on every shift and prevalence, its mean sensitivity is at most "
    f"{SAFETY_MARGIN} below the unadapted model's (the source threshold). Among safe methods the one with the highest "
    "worst case (over shifts and prevalences) of the mean of min(sensitivity, specificity) ships; within "
    f"{TIE} of the best, the simpler (in the order of CANDIDATES). If no fitted method is safe, "
    f"{FALLBACK_METHOD} (the earlier rule's choice) stays. Round 2: round 1 (this rule on the first six "
    "candidates, weights/efficientnet_lite0/adapt_study_val_round1.json) found no fitted method safe; three "
    "candidates whose threshold gives up at most half the safety margin of fitted sensitivity were added and the "
    "rule re-run unchanged.")

TEST_PROTOCOL = (
    f"On the official test split, for each prevalence (10%, 50%, 90%), {{draws}} draws: whole patients are drawn at "
    f"random, class by class, until the draw holds {DRAW_SIZE} films at that prevalence; the shipped method fits the "
    "operating point on the draw's scores (the source model's calibrated logits, no labels) exactly as adapt-site "
    "does, with the source score densities of the validation films; every film of the patients not drawn is called "
    "at the fitted threshold. Recorded per draw: sensitivity, specificity, accuracy, the estimated prevalence and "
    "whether the fit fell back, for the fitted and the unadapted threshold on the same films. Reported: the mean, "
    "the 5th percentile and the 2.5th/97.5th percentiles over draws. No test label reaches a fit.")

ROW = ("sensitivity", "specificity", "accuracy", "estimated_prevalence", "drawn_prevalence", "fallback")


def run_draws(scores: np.ndarray, labels: np.ndarray, patients: np.ndarray, source: SourceScores,
              methods: Sequence[ScoreMixture | str], *, draws: int, seed: int, source_threshold: float,
              source_prevalence: float, prevalences: Sequence[float] = PREVALENCES) -> dict:
    """{prevalence: {method: rows}} (`ROW`); `scores`: every film's calibrated logit."""
    s, y, g = np.asarray(scores, np.float64), np.asarray(labels, int), np.asarray(patients)
    out: dict = {}
    for prevalence in prevalences:
        rows: dict[str, list] = {(m if isinstance(m, str) else m.name): [] for m in methods}
        for drawn, scored in draws_at(seed, prevalence, draws, y, g):
            for m in methods:
                if isinstance(m, str):
                    t, pi, fell = source_threshold, estimate_prevalence(expit(s[drawn]), source_prevalence).prevalence, 0.0
                    name = m
                else:
                    fit = fit_operating_point(s[drawn], source, m, source_threshold=source_threshold,
                                              source_prevalence=source_prevalence)
                    t, pi, fell, name = fit.threshold, fit.prevalence, float(fit.fallback is not None), m.name
                rows[name].append([*call_rates(s[scored] >= t, y[scored]), pi, float(y[drawn].mean()), fell])
        out[f"{prevalence:g}"] = {name: np.asarray(r).tolist() for name, r in rows.items()}
    return out


def summarise(rows: list[list[float]]) -> dict:
    a = np.asarray(rows, float)
    return {k: {"mean": float(np.mean(a[:, i])), "p5": float(np.percentile(a[:, i], 5)),
                "p2_5": float(np.percentile(a[:, i], 2.5)), "p97_5": float(np.percentile(a[:, i], 97.5))}
            for i, k in enumerate(ROW)}


def choose(summary: dict[str, dict]) -> tuple[str, dict]:
    """`SELECTION_RULE` on `{shift: {prevalence: {method: summarise(rows)}}}` (the record's
    `summary`: the choice re-derives from the record). Returns the chosen name and, per
    method, whether it is safe and its worst case."""
    def mean(sh: str, p: str, n: str, k: str) -> float:
        return summary[sh][p][n][k]["mean"]
    conditions = sorted((sh, p) for sh, by_p in summary.items() for p in by_p)
    names = [n for n in CANDIDATES if all(n in summary[sh][p] for sh, p in conditions)]
    verdict = {}
    for n in names:
        sens = [mean(sh, p, n, "sensitivity") for sh, p in conditions]
        spec = [mean(sh, p, n, "specificity") for sh, p in conditions]
        safe = all(mean(sh, p, n, "sensitivity") >= mean(sh, p, NONE, "sensitivity") - SAFETY_MARGIN
                   for sh, p in conditions)
        verdict[n] = {"safe": bool(safe), "worst_min_sens_spec": float(min(map(min, sens, spec))),
                      "worst_sensitivity": float(min(sens)), "worst_specificity": float(min(spec))}
    fitted = [n for n in names if n != NONE and verdict[n]["safe"]]
    if not fitted:
        return FALLBACK_METHOD, verdict
    best = max(verdict[n]["worst_min_sens_spec"] for n in fitted)
    return next(n for n in fitted if verdict[n]["worst_min_sens_spec"] >= best - TIE), verdict
