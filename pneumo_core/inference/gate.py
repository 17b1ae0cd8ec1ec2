"""Whether a film gets a call at all: the one tier rule every output (CLI, app, PDF, CSV) follows.

- `Tier.NOT_ASSESSED`: plainly not an upright frontal chest radiograph we can read, so the
  call is withheld (label and probability null). Any of: an image check fired (colour,
  posterised: `ood.IMAGE_CHECKS`), the features are far out of distribution
  (`far_out_of_distribution`), or the orientation head could not determine the film's
  orientation or grey levels (`orientation.assess_batch` -> "withheld").
- `Tier.UNUSUAL`: scored, with the caller's out-of-distribution warning (`OODModel.flags`,
  each term above its validation 99.5th percentile).
- `Tier.OK`: scored.

The far limit, by a rule fixed before it was measured: each OOD term above FAR_OOD_MARGIN
times its largest value over all the model's validation films (computed by
`training.orientation`, stored in `orientation.json` under "far_ood"). It is judged on the
features of the film that is scored, so on the corrected film when orientation corrected it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..io.header_policy import HEADER_PREFIX
from ..io.ingest import BLANK_WARNING, COLOUR_WARNING
from .ood import POSTERISED_WARNING
from .orientation import RECORD_FILE, WITHHELD_REASON

if TYPE_CHECKING:
    from .ood import OODModel
    from .orientation import Assessment

__all__ = ["Tier", "GateDecision", "decide", "REASONS", "reason_code", "far_ood_limits", "far_out_of_distribution", "NOT_ASSESSED_PREFIX",
           "FAR_OOD_REASON", "FAR_OOD_MARGIN", "FAR_OOD_RULE"]

NOT_ASSESSED_PREFIX = "not assessed: "
FAR_OOD_MARGIN = 2.0
FAR_OOD_RULE = (f"either out-of-distribution term (Mahalanobis distance in the PCA subspace, residual outside it) "
                f"above {FAR_OOD_MARGIN:g} x its largest value over the model's validation films")
FAR_OOD_REASON = "far outside the features of the training radiographs (not a chest radiograph?)"
# Why a film gets no call, as a code a program can match and the words a reader sees: the one
# place they are paired (a check the table does not know is "image_check", in its own words).
REASONS = {"colour": COLOUR_WARNING, "posterised": POSTERISED_WARNING, "blank": BLANK_WARNING,
           "far_ood": FAR_OOD_REASON, "orientation_unreadable": WITHHELD_REASON}
_CODES = {words: code for code, words in REASONS.items()}


def reason_code(words: str) -> str:
    """The code of a reason worded by an image check, the far limit or the orientation head."""
    if words.startswith(HEADER_PREFIX):
        return "dicom_header"
    return _CODES.get(words, "image_check")


class Tier(str, Enum):
    NOT_ASSESSED = "not assessed"
    UNUSUAL = "unusual"
    OK = "ok"


@dataclass(frozen=True)
class GateDecision:
    tier: Tier
    warnings: tuple[str, ...] = ()  # to add to the prediction's own (decoding) warnings
    reasons: tuple[str, ...] = ()   # codes (`REASONS`) of why the call is withheld
    correction: int | None = None   # `orientation.TRANSFORMS` index undone before scoring, when one was

    @property
    def withheld(self) -> bool:
        return self.tier is Tier.NOT_ASSESSED


def decide(check_reasons: Sequence[str] = (), far_ood: bool = False, orientation: "Assessment | None" = None,
           ood_flag: bool = False) -> GateDecision:
    """The tier of one film from the facts measured on it.

    Args:
        check_reasons: what `ood.image_check_reasons` said (empty: no image check fired).
        far_ood: `far_out_of_distribution` on the features of the film that would be scored.
        orientation: the film's `Assessment`, or None when the model has no orientation head.
        ood_flag: `OODModel.flags` on those same features.

    Returns:
        NOT_ASSESSED with one warning "not assessed: <reasons>"; else UNUSUAL or OK, with
        the orientation correction's warning when the film was corrected. The caller adds
        its out-of-distribution warning for UNUSUAL, as it does today.
    """
    reasons = list(check_reasons)
    if far_ood:
        reasons.append(FAR_OOD_REASON)
    if orientation is not None and orientation.status == "withheld":
        reasons.append(orientation.reason or WITHHELD_REASON)
    if reasons:
        return GateDecision(Tier.NOT_ASSESSED, (NOT_ASSESSED_PREFIX + "; ".join(reasons),),
                            tuple(reason_code(r) for r in reasons))
    if orientation is not None and orientation.status == "corrected":
        return GateDecision(Tier.UNUSUAL if ood_flag else Tier.OK, (orientation.warning,),
                            correction=orientation.transform)
    return GateDecision(Tier.UNUSUAL if ood_flag else Tier.OK)


def far_ood_limits(model_dir: str | Path) -> tuple[float, float] | None:
    """The two stored limits (inside, residual), or None when the model has none."""
    p = Path(model_dir) / RECORD_FILE
    if not p.is_file():
        return None
    far = json.loads(p.read_text()).get("far_ood")
    return None if not far else (float(far["limits"][0]), float(far["limits"][1]))


def far_out_of_distribution(ood: "OODModel | None", features: np.ndarray,
                            limits: tuple[float, float] | None) -> np.ndarray:
    """True where either OOD term is above its far limit; all False without a model or limits."""
    features = np.atleast_2d(np.asarray(features))
    if ood is None or limits is None:
        return np.zeros(len(features), dtype=bool)
    inside, residual = ood.terms(features)
    return (inside > limits[0]) | (residual > limits[1])
