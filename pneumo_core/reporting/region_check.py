"""What the heatmap's check says, in one place: the page's line under the map, the gallery
dialog and the PDF all print `RegionCheck.text`, and the viewer dims a map whose check failed
(`RegionCheck.map_fails`).

The check fills the map's top fifth in from the film around it and scores the film again
(`evaluation.saliency_checks.filled_logit`). It is judged for the class called, on the call
and on the model's logit (source-calibrated log-odds; the probability saturates: at P > 99.9% no region can move it
visibly, while the logit still can). Exactly one of five outcomes, tested in this order:

- `FLIPS`: the call changes at the threshold in use: the call rests on this region.
- `FAILS`: the called class's logit *rises* by more than `NEGLIGIBLE_LOGIT`: the region does
  not support the call, so the map fails its own check and is dimmed.
- `SATURATED`: P stays past the display's resolution (> 99.9% or < 0.1%, as printed)
  before and after: no single region changes it, so the check cannot weigh the region.
- `UNMOVED`: the logit moves by at most `NEGLIGIBLE_LOGIT`: the call does not rest here.
- `STANDS`: the logit falls by so much and the call stands: the region carries part of it.

"Carries much of the call" is never said: only a flip shows that a call rests on a region.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..stats.decision import CLASSES, call_label
from ..stats.display import format_probability

__all__ = ["FLIPS", "FAILS", "SATURATED", "UNMOVED", "STANDS", "OUTCOMES", "NEGLIGIBLE_LOGIT", "RegionCheck"]

FLIPS, FAILS, SATURATED, UNMOVED, STANDS = "flips", "fails", "saturated", "unmoved", "stands"
OUTCOMES = (FLIPS, FAILS, SATURATED, UNMOVED, STANDS)
NEGLIGIBLE_LOGIT = 0.1  # a logit change at most this large is read as no change (float noise, rounding)


@dataclass(frozen=True)
class RegionCheck:
    """One film's check, for the class called at `threshold`.

    `logit_*` are the model's logits under its source calibration (`Prediction.logit`: the
    log-odds of the source probability, monotone in P under every calibration, so their
    direction is the probability's); `p_*` are P(pneumonia) in the calibration shown, and
    `threshold` is in that calibration too."""
    called: str
    logit_before: float
    logit_after: float
    p_before: float
    p_after: float
    threshold: float
    fraction: float = 0.2

    @property
    def _sign(self) -> float:
        return 1.0 if self.called == "PNEUMONIA" else -1.0

    @property
    def score_before(self) -> float:
        """The called class's logit: the raw logit for PNEUMONIA, its negative for NORMAL."""
        return self._sign * self.logit_before

    @property
    def score_after(self) -> float:
        return self._sign * self.logit_after

    @property
    def moved(self) -> float:
        """How far filling the region in moved the called class's logit (negative: away from the call)."""
        return self.score_after - self.score_before

    @property
    def outcome(self) -> str:
        if call_label(self.p_after, self.threshold) != self.called:
            return FLIPS
        if self.moved > NEGLIGIBLE_LOGIT:
            return FAILS
        end = "> 99.9%" if self.called == "PNEUMONIA" else "< 0.1%"
        if format_probability(self.p_before) == format_probability(self.p_after) == end:
            return SATURATED
        if self.moved >= -NEGLIGIBLE_LOGIT:
            return UNMOVED
        return STANDS

    @property
    def map_fails(self) -> bool:
        """The map failed its own check: the page dims it and says so."""
        return self.outcome == FAILS

    @property
    def text(self) -> str:
        """The check in one or two sentences, every number as the screen prints it."""
        c, share = self.called, f"{self.fraction:.0%}"
        fill = f"filling the map's top {share} in from the film around it"
        scores = f"{self.score_before:.1f} → {self.score_after:.1f} logits"
        p = f"P(pneumonia) {format_probability(self.p_before)} → {format_probability(self.p_after)}"
        outcome = self.outcome
        if outcome == FLIPS:
            other = CLASSES[1 - CLASSES.index(c)]
            return (f"{fill.capitalize()} turns the call from {c} to {other} ({p}, threshold {self.threshold:.3f}): "
                    f"the {c} call rests on this region.")
        if outcome == FAILS:
            return (f"The map fails its own check: {fill} raises the model's {c} score by {self.moved:.1f} logits "
                    f"({scores}; {p}), so the highlighted region does not support the {c} call. The map is dimmed: "
                    "do not read it as the reason for the call.")
        if outcome == SATURATED:
            return (f"{fill.capitalize()} moves the model's {c} score by {self.moved:+.1f} logits ({scores}), but "
                    f"P(pneumonia) stays {format_probability(self.p_after)}: the score is saturated, so no single "
                    "region changes it, and this check cannot weigh the region.")
        if outcome == UNMOVED:
            return (f"{fill.capitalize()} leaves the model's {c} score almost unchanged ({scores}; {p}): the {c} "
                    "call does not rest on this region.")
        return (f"{fill.capitalize()} lowers the model's {c} score by {-self.moved:.1f} logits ({scores}; {p}), "
                f"but the {c} call stands at threshold {self.threshold:.3f}: the region carries part of the call, "
                "not all of it.")
