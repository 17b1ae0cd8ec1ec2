"""One site adaptation: which normalisation layers are re-estimated on the site's unlabelled
films, how, and the prevalence the adapted model then implies.

The candidates (`CANDIDATES`) span the literature's options: plain test-time BN (AdaBN) at
several depths, an interpolation of source and site moments, and a prevalence-aware variant
whose moments are those of a film mix with the source's class balance, each film weighted by
its EM posterior (so a ward of mostly pneumonia does not pass for a new detector). Which one
ships is chosen on validation films under simulated shifts (`evaluation.adaptation_study`, docs/site-adaptation.md).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..calibration.source import calibrated
from .normalisation import (Adjust, Statistics, adapted_layers, apply_statistics, collect_statistics, mix_statistics,
                            source_statistics, tail_start)
from .prevalence import estimate_prevalence

__all__ = ["AdaptationMethod", "Adaptation", "CANDIDATES", "NO_ADAPTATION", "DEFAULT_METHOD", "method_named", "MIN_FILMS", "MAX_MOMENT_FILMS",
           "adapt", "tail_logits", "statistics_applied", "prevalence_weights"]

MIN_FILMS = 100         # the size the method was chosen and measured at; fewer are refused
MAX_MOMENT_FILMS = 200  # moments from at most this many films, in one batch through the re-run part: bounded memory
_CHUNK = 128


@dataclass(frozen=True)
class AdaptationMethod:
    name: str
    depth: int                    # the last `depth` normalisation layers are re-estimated; 0: none
    share: float = 1.0            # the site's share of the moments (1: AdaBN; below: interpolated)
    balance: str = ""             # toward the source's class mix: "weighted" films, or "corrected" moments
    rounds: int = 1               # posteriors re-estimated with the adapted model this many times

    def describe(self) -> str:
        if not self.depth:
            return "no normalisation layer re-estimated; the prevalence alone is estimated"
        how = {"": "plain", "weighted": "class-balanced (films weighted by EM posteriors to the source's class mix)",
               "corrected": "label-shift corrected (the moments moved from the EM prevalence to the source's by "
                            "the source's class moments)"}[self.balance]
        mix = "" if self.share == 1.0 else f", {self.share:.0%} site / {1 - self.share:.0%} source"
        return f"the last {self.depth} normalisation layers re-estimated on the site's films, {how}{mix}"


NO_ADAPTATION = AdaptationMethod("none", 0)
CANDIDATES: tuple[AdaptationMethod, ...] = (
    NO_ADAPTATION,
    *(AdaptationMethod(f"bn-last{d}", d) for d in (1, 4, 16, 48)),
    *(AdaptationMethod(f"bn-last{d}-half", d, share=0.5) for d in (4, 16)),
    *(AdaptationMethod(f"bn-last{d}-weighted", d, balance="weighted", rounds=2) for d in (1, 4, 16, 48)),
    *(AdaptationMethod(f"bn-last{d}-corrected", d, balance="corrected", rounds=3) for d in (1, 4, 16, 48)),
)


# The method adapt-site uses: the one `evaluation.adaptation_study.SELECTION_RULE` chose on
# validation shifts (weights/efficientnet_lite0/adapt_study_val.json, docs/site-adaptation.md).
DEFAULT_METHOD = next(m for m in CANDIDATES if m.name == "bn-last48-weighted")


@dataclass
class Adaptation:
    method: AdaptationMethod
    statistics: Statistics
    prevalence: float          # EM estimate on the adapted model's posteriors
    source_prevalence: float
    films: int


def method_named(name: str) -> AdaptationMethod:
    found = {m.name: m for m in CANDIDATES}
    if name not in found:
        raise ValueError(f"unknown adaptation method {name!r}; known: {', '.join(found)}")
    return found[name]


@contextmanager
def statistics_applied(model: nn.Module, statistics: Statistics) -> Iterator[nn.Module]:
    """`model` with `statistics` in its layers for the duration, its own moments after."""
    saved = source_statistics(model, list(statistics))
    apply_statistics(model, statistics)
    try:
        yield model
    finally:
        apply_statistics(model, saved)


@torch.no_grad()
def tail_logits(model: nn.Module, h: torch.Tensor, start: int, statistics: Statistics | None = None) -> np.ndarray:
    """Raw logits of the films whose block-`start` inputs are `h`, under `statistics`."""
    model.eval()
    with statistics_applied(model, statistics or {}):
        out = [model.classify(model.features_from(h[i:i + _CHUNK], start)).squeeze(1).double().cpu()
               for i in range(0, len(h), _CHUNK)]
    return torch.cat(out).numpy()


def prevalence_weights(posteriors: np.ndarray, source_prevalence: float) -> np.ndarray:
    """Film weights that give each class its source share: pneumonia films (by posterior)
    together weigh `source_prevalence`, normal films the rest."""
    q = np.clip(np.asarray(posteriors, np.float64), 1e-6, 1 - 1e-6)
    return source_prevalence * q / q.sum() + (1 - source_prevalence) * (1 - q) / (1 - q).sum()


def class_shift_correction(moments: dict, site_prevalence: float, source_prevalence: float) -> Adjust:
    """Moves a layer's site moments from the class mix the site has (`site_prevalence`) to the
    source's, by the source's own class moments: what the site's films would give if they
    held the source's share of pneumonia. The mean moves by the source's class difference
    in site units (scaled by the site's spread), the variance by the ratio of mixture spreads."""
    def mixture(name: str, p: float) -> tuple[np.ndarray, np.ndarray]:
        m, v = moments[name]["mean"], moments[name]["var"]
        mean = p * m[1] + (1 - p) * m[0]
        return mean, p * v[1] + (1 - p) * v[0] + p * (1 - p) * (m[1] - m[0]) ** 2

    def adjust(name: str, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (m_site, v_site), (m_src, v_src) = mixture(name, site_prevalence), mixture(name, source_prevalence)
        scale = np.sqrt(np.maximum(var, 1e-12) / np.maximum(v_site, 1e-12))
        return mean + (m_src - m_site) * scale, var * np.maximum(v_src, 1e-12) / np.maximum(v_site, 1e-12)
    return adjust


def adapt(model: nn.Module, h: torch.Tensor, start: int, method: AdaptationMethod, *, temperature: float,
          source_prevalence: float, moments: dict | None = None) -> Adaptation:
    """Adapts to the films whose block-`start` inputs are `h` (`start` at most the method's
    `tail_start`; see `normalisation.block_inputs`). `moments`: the source's class moments
    (`normalisation.class_moments`), which a "corrected" method needs. Labels are never an
    argument."""
    layers = adapted_layers(model, method.depth)
    if layers and start > tail_start(model, layers):
        raise ValueError(f"block inputs at {start} cannot re-run layers from block {tail_start(model, layers)}")
    if method.balance == "corrected" and moments is None:
        raise ValueError(f"{method.name} needs the source's class moments")
    moments_h = h[:MAX_MOMENT_FILMS]
    statistics: Statistics = {}
    if layers:
        source = source_statistics(model, layers)
        for _ in range(method.rounds):
            weights, adjust = None, None
            if method.balance:
                posteriors = calibrated(tail_logits(model, moments_h, start, statistics), temperature)
                estimate = estimate_prevalence(posteriors, source_prevalence)
                if method.balance == "weighted":
                    weights = prevalence_weights(estimate.posteriors, source_prevalence)
                else:
                    adjust = class_shift_correction(moments, estimate.prevalence, source_prevalence)
            site = collect_statistics(model, moments_h, start, layers, weights, adjust)
            statistics = mix_statistics(source, site, method.share) if method.share != 1.0 else site
    estimate = estimate_prevalence(calibrated(tail_logits(model, h, start, statistics), temperature), source_prevalence)
    return Adaptation(method, statistics, estimate.prevalence, source_prevalence, len(h))
