"""The steps of a scoring pass that are not the network's: what a film brings to it, how a
failing step is named for the film's error line, and the input gate's call on each film of a
scored batch, as the predictions it gives."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..stats.decision import call_label
from .gate import GateDecision, Tier, decide
from .prediction import Prediction

__all__ = ["FAILED_PREFIX", "OOD_WARNING", "Prepared", "StepFailed", "step", "failed_prediction", "gated_predictions"]

_log = logging.getLogger("pneumo_core.inference.predictor")

FAILED_PREFIX = "not scored:"  # a film read, but a step after decoding failed on it (`failed_prediction`)
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


def failed_prediction(name: str, t: float, step_name: str, exc: BaseException | None, warnings: list[str], *,
                      model: str, site: str | None) -> Prediction:
    """A film read but not scored because a step failed: said in our words (the step and the
    kind of failure, never the exception's text, which may quote the data)."""
    kind = type(exc).__name__ if exc is not None else "error"
    _log.warning("film not scored: %s failed (%s)", step_name, kind)
    return Prediction(file=name, probability=None, label=None, threshold=t, model=model, warnings=list(warnings),
                      error=f"{FAILED_PREFIX} the {step_name} failed on this film ({kind}); no call on what cannot "
                            "be read", site=site)


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
            out.append(Prediction(file=name, probability=None, label=None, threshold=t, model=model, warnings=warnings,
                                  error=None, ood_score=score, site=site, model_input=scored, reasons=decision.reasons))
            continue
        unusual = decision.tier is Tier.UNUSUAL
        if unusual:  # the warning, plus check reasons not already said
            warnings += [OOD_WARNING] + [w for w in prep.check_reasons if w not in warnings]
        p = float(probs[i])
        out.append(Prediction(file=name, probability=p, label=call_label(p, t), threshold=t, model=model,
                              warnings=warnings, error=None, ood_score=score, site=site, logit=float(x[i]),
                              features=feats[i], model_input=scored, correction=decision.correction,
                              out_of_distribution=unusual))
    return out

