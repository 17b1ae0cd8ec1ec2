"""What adapting to a site changed: the films whose call differs between the model as shipped
and the adapted profile, at one named operating point. One home for the app's list and the
command line's lines, so the two cannot disagree on the same batch.

A profile that only moves the threshold (its `adaptation["layers"]` is empty: the score-mixture
family) leaves every film's logit as it was, so its calls follow from the source scores
alone (`site_probabilities`); a profile that re-estimates normalisation layers changes the
network, and its calls need the films scored again under it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..stats.decision import call_label

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile

__all__ = ["CallChange", "CallChanges", "threshold_only", "site_probabilities", "changed_calls"]


@dataclass(frozen=True)
class CallChange:
    index: int                  # the film's position in the batch as given
    file: str
    before: str                 # the call of the model as shipped
    after: str                  # the call under the adapted profile
    probability_before: float   # calibrated on validation data
    probability_after: float    # as the profile shows it

    def line(self) -> str:
        """One plain line, as the command line prints it."""
        return (f"{self.file}: {self.before} -> {self.after} "
                f"(P {self.probability_before:.3f} -> {self.probability_after:.3f})")


@dataclass(frozen=True)
class CallChanges:
    preset: str                 # the operating point compared ("balanced")
    threshold_before: float     # the model's own, on its own probability
    threshold_after: float      # the profile's, on the profile's probability
    compared: int               # films with a call both before and after
    changed: tuple[CallChange, ...]

    @property
    def to_pneumonia(self) -> int:
        return sum(c.after == "PNEUMONIA" for c in self.changed)

    @property
    def to_normal(self) -> int:
        return sum(c.after == "NORMAL" for c in self.changed)


def threshold_only(profile: SiteProfile) -> bool:
    """The profile leaves the network as shipped (no re-estimated layer): scores, features and
    the drift alarm's verdict are the source model's; only the probability and the call move."""
    return not (profile.adaptation or {}).get("layers")


def site_probabilities(profile: SiteProfile, logits: Sequence[float]) -> np.ndarray:
    """The profile's probabilities from the source model's calibrated logits. Refused for a
    profile that changes the network: its logits are not the source's."""
    if not threshold_only(profile):
        raise ValueError(f"profile {profile.name!r} re-estimates the network: score the films again under it")
    return profile.probability(np.asarray(logits, np.float64))


def changed_calls(files: Sequence[str], before: Sequence[float | None], after: Sequence[float | None], *,
                  threshold_before: float, threshold_after: float, preset: str = "balanced") -> CallChanges:
    """The films whose call differs. `before`/`after`: each film's probability (None where it got
    no call: withheld, unreadable) in the batch's order; the call is the product's own rule
    (`call_label`), so the list is what the reading room and `predict` show."""
    if not len(files) == len(before) == len(after):
        raise ValueError("one file name, one probability before and one after per film")
    changed, compared = [], 0
    for i, (name, p0, p1) in enumerate(zip(files, before, after)):
        if p0 is None or p1 is None or not (np.isfinite(p0) and np.isfinite(p1)):
            continue
        compared += 1
        a, b = call_label(float(p0), threshold_before), call_label(float(p1), threshold_after)
        if a != b:
            changed.append(CallChange(i, str(name), a, b, float(p0), float(p1)))
    return CallChanges(preset, float(threshold_before), float(threshold_after), compared, tuple(changed))
