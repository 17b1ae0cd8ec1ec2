"""The steps of a scoring pass that are not the network's: what a film brings to it, how a
failing step is named for the film's error line, and the input gate's call on each film of a
scored batch, as the predictions it gives."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..stats.decision import call_label
from .gate import GateDecision, Tier, decide
from .prediction import Prediction

__all__ = ["OOD_WARNING", "Prepared", "StepFailed", "step", "gated_predictions"]

OOD_WARNING = "out of distribution: unlike the training radiographs; treat the probability with caution"


@dataclass
class Prepared:
    resized: np.ndarray       # uint8 at the model's input size
    warnings: list[str]       # from decoding
    check_reasons: list[str]  # from ood.IMAGE_CHECKS, measured on the full image


class StepFailed(Exception):
    """A step of the scoring pass failed; `__cause__` is what it raised."""

    def __init__(self, step: str) -> None:
        super().__init__(step)
        self.step = step


@contextmanager
def step(name: str) -> Iterator[None]:
    """Names the step for the film's error line, if what it runs raises."""
    try:
        yield
    except StepFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised, named
        raise StepFailed(name) from exc


def gated_predictions(prepared: list[Prepared], names: list[str], t: float, assessments: list, probs: np.ndarray,
                      x: np.ndarray, feats: np.ndarray, ood: np.ndarray | None, flags: np.ndarray, far: np.ndarray,
                      *, gate: bool, model: str, site: str | None) -> list[Prediction]:
    """The gate's call on each film of a scored batch, and the predictions it gives."""
    out = []
    for i, (prep, name) in enumerate(zip(prepared, names)):
        a = assessments[i]
        scored = a.corrected_pixels if a is not None and a.status == "corrected" else prep.resized
        score = float(ood[i]) if ood is not None else None
        if not gate:  # evaluation: every film scored as given; plain-picture checks only warn
            decision = GateDecision(Tier.UNUSUAL if flags[i] or prep.check_reasons else Tier.OK)
        else:
            decision = decide(prep.check_reasons, bool(far[i]), assessments[i], bool(flags[i]))
        warnings = prep.warnings + list(decision.warnings)
        if decision.withheld:  # read, but not a film we can call: no probability, no label
            out.append(Prediction(name, None, None, t, model, warnings, None, score, site, model_input=scored,
                                  reasons=decision.reasons))
            continue
        unusual = decision.tier is Tier.UNUSUAL
        if unusual:  # the warning, plus check reasons not already said
            warnings += [OOD_WARNING] + [w for w in prep.check_reasons if w not in warnings]
        p = float(probs[i])
        out.append(Prediction(name, p, call_label(p, t), t, model, warnings, None, score, site, float(x[i]),
                              feats[i], scored, correction=decision.correction, out_of_distribution=unusual))
    return out

