"""How well does site adaptation do, and which method ships? Both measured by draws of
whole patients at a fixed prevalence: adapt on the draw's films (never their labels), score
every film of the other patients at the model's balanced decision rule, record sensitivity,
specificity and the estimated prevalence.

- `SELECTION_RULE` chooses the method on validation films under simulated acquisition
  shifts (`STUDY_SHIFTS`); it was committed before the comparison first ran.
- `TEST_PROTOCOL` is the one run on the official test split with the chosen method; it was
  committed before that run and not changed after.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from ..calibration.recalibration import logit
from ..calibration.site_study import draw_patients
from .robustness import CORRUPTIONS
from ..adaptation.method import AdaptationMethod, adapt, tail_logits
from ..adaptation.normalisation import adapted_layers, tail_start

__all__ = ["STUDY_SHIFTS", "PREVALENCES", "DRAW_SIZE", "SELECTION_RULE", "TEST_PROTOCOL", "SAFETY_MARGIN", "ROW",
           "draw_at_prevalence", "draws_at", "report_shift", "call_rates", "method_start", "run_draws", "summarise", "choose_method"]

PREVALENCES = (0.1, 0.5, 0.9)
DRAW_SIZE = 100
SAFETY_MARGIN = 0.02  # a safe method is never this much below doing nothing, on any condition
TIE = 0.005


def _resolution(x: torch.Tensor, factor: float = 0.5) -> torch.Tensor:
    size = x.shape[-1]
    small = torch.nn.functional.interpolate(x, scale_factor=factor, mode="bilinear", antialias=True)
    return torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear").clamp(0, 1)


STUDY_SHIFTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {**CORRUPTIONS, "resolution_0.5": _resolution}

SELECTION_RULE = (
    f"On validation films, clean and under each simulated acquisition shift, and at each prevalence "
    f"({', '.join(f'{p:.0%}' for p in PREVALENCES)}), draws of whole patients ({DRAW_SIZE} films) are adapted on and "
    "every film of the other patients is scored at the model's balanced threshold. A method is safe when, on every "
    f"shift and prevalence, its mean sensitivity and its mean specificity are each at most {SAFETY_MARGIN} below the "
    "unadapted model's. Among safe methods the one with the highest worst case (over shifts and prevalences) of the "
    f"mean of min(sensitivity, specificity) ships; within {TIE} of the best, the one that re-estimates fewer layers, "
    "then the simpler (plain, then interpolated, then weighted, then corrected). If no adapted method is safe, none "
    "ships: adapt-site then estimates the prevalence only.")

TEST_PROTOCOL = (
    "On the official test split, for each prevalence (10%, 50%, 90%), {draws} draws: whole patients are drawn at random, "
    f"class by class, until the draw holds {DRAW_SIZE} films at that prevalence; the shipped method adapts on the draw's "
    "films (no labels) exactly as adapt-site does; every film of the patients not drawn is scored with the adapted "
    "model at the profile's balanced threshold (the model's own threshold carried through the prior shift: the same "
    "call at any prevalence estimate). Recorded per draw: sensitivity, specificity, accuracy and the estimated "
    "prevalence, for the adapted and the unadapted model on the same films. Reported: the mean and the 2.5th/97.5th "
    "percentiles over draws. The class moments come from training films; no test label reaches the adaptation.")


def draw_at_prevalence(rng: np.random.Generator, labels: np.ndarray, patients: np.ndarray, prevalence: float,
                       size: int = DRAW_SIZE) -> np.ndarray:
    """Boolean mask of whole patients, drawn class by class (pneumonia first) until each class
    holds its share of `size` films."""
    pneumonia = int(round(prevalence * size))
    return draw_patients(rng, labels, patients, [(1, pneumonia), (0, size - pneumonia)])


def draws_at(seed: int, prevalence: float, draws: int, labels: np.ndarray, patients: np.ndarray
             ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(drawn, scored) masks for each draw at `prevalence`: the draw's whole patients, and every
    film of the other patients (never one sharing a patient with the draw). The same random
    stream for every study, so a draw is the same films whichever method it serves."""
    rng = np.random.default_rng([seed, int(round(prevalence * 1000))])
    for _ in range(draws):
        drawn = draw_at_prevalence(rng, labels, patients, prevalence)
        scored = ~np.isin(patients, patients[drawn])
        if np.isin(patients[scored], patients[drawn]).any():
            raise AssertionError("a scored film shares a patient with the draw")
        yield drawn, scored


def report_shift(shift: str, by_prevalence: dict, line: Callable[[str, str, str, dict], str], table: list[str],
                 progress: Callable[[str], None] | None) -> None:
    """One shift's summary as table lines (`line(shift, prevalence, method, row)`), each also
    handed to `progress` as it is made: a long run shows what it has done."""
    for p, by_m in by_prevalence.items():
        for m, row in by_m.items():
            table.append(line(shift, p, m, row))
            if progress is not None:
                progress(table[-1])


def call_rates(calls: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    y = labels.astype(bool)
    return float(calls[y].mean()), float((~calls[~y]).mean()), float((calls == y).mean())


def method_start(model: torch.nn.Module, method: AdaptationMethod) -> int:
    """The block from which `method` re-runs the network."""
    return tail_start(model, adapted_layers(model, method.depth))


def run_draws(model: torch.nn.Module, inputs: dict[int, torch.Tensor], labels: np.ndarray, patients: np.ndarray,
              methods: Sequence[AdaptationMethod], *, draws: int, seed: int, temperature: float,
              source_prevalence: float, threshold: float, moments: dict | None = None,
              prevalences: Sequence[float] = PREVALENCES) -> dict:
    """Per prevalence and method, one row per draw (`ROW`). `inputs`: every film's input to
    block `start`, for each start in `method_start` of the methods; `threshold`: the model's
    own, on the source-calibrated P (the profile's balanced threshold is it, moved with the
    probability: the same call)."""
    y, g = np.asarray(labels, int), np.asarray(patients)
    cut = float(logit(threshold)) * temperature  # on the raw logit
    starts = {m.name: method_start(model, m) for m in methods}
    missing = set(starts.values()) - set(inputs)
    if missing:
        raise ValueError(f"no block inputs at {sorted(missing)}")
    out: dict = {}
    for prevalence in prevalences:
        rows: dict[str, list] = {m.name: [] for m in methods}
        for drawn, scored in draws_at(seed, prevalence, draws, y, g):
            for m in methods:
                h, start = inputs[starts[m.name]], starts[m.name]
                a = adapt(model, h[torch.as_tensor(drawn, device=h.device)], start, m, temperature=temperature,
                          source_prevalence=source_prevalence, moments=moments)
                calls = tail_logits(model, h[torch.as_tensor(scored, device=h.device)], start, a.statistics) >= cut
                rows[m.name].append([*call_rates(calls, y[scored]), a.prevalence, float(y[drawn].mean())])
        out[f"{prevalence:g}"] = {name: np.asarray(r).tolist() for name, r in rows.items()}
    return out


ROW = ("sensitivity", "specificity", "accuracy", "estimated_prevalence", "drawn_prevalence")


def summarise(rows: list[list[float]]) -> dict:
    a = np.asarray(rows, float)
    return {k: {"mean": float(np.nanmean(a[:, i])), "p2_5": float(np.nanpercentile(a[:, i], 2.5)),
                "p97_5": float(np.nanpercentile(a[:, i], 97.5))} for i, k in enumerate(ROW)}


_SIMPLICITY = {"": 0, "weighted": 2, "corrected": 3}


def choose_method(by_shift: dict[str, dict], methods: Sequence[AdaptationMethod]) -> tuple[str, dict]:
    """`SELECTION_RULE` on `{shift: run_draws(...)}`; 'none' must be among the methods.
    Returns the chosen name and, per method, whether it is safe and its worst case."""
    means = {(s, p, name): np.nanmean(np.asarray(rows, float), 0) for s, by_p in by_shift.items()
             for p, by_m in by_p.items() for name, rows in by_m.items()}
    conditions = sorted({(s, p) for s, p, _ in means})
    verdict = {}
    for m in methods:
        safe = all(means[(s, p, m.name)][i] >= means[(s, p, "none")][i] - SAFETY_MARGIN
                   for s, p in conditions for i in (0, 1))
        worst = min(min(means[(s, p, m.name)][0], means[(s, p, m.name)][1]) for s, p in conditions)
        verdict[m.name] = {"safe": bool(safe), "worst_min_sens_spec": float(worst)}
    candidates = [m for m in methods if m.depth and verdict[m.name]["safe"]]
    if not candidates:
        return "none", verdict
    best = max(verdict[m.name]["worst_min_sens_spec"] for m in candidates)
    near = [m for m in candidates if verdict[m.name]["worst_min_sens_spec"] >= best - TIE]
    chosen = min(near, key=lambda m: (m.depth, m.share != 1.0, _SIMPLICITY[m.balance]))
    return chosen.name, verdict
