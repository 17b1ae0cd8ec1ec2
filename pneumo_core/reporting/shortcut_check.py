"""What the shortcut check beside the heatmap says, in one place (the Diagnose page and its
gallery dialog print `ShortcutCheck.text`; the facts come from `inference.shortcut`).

Exactly one outcome, tested in this order:
- `CLEAR`: the map's strongest cell lies on the body and on no detected marker. Said with
  the number of markers found, because the detector can miss one (its recall is measured in
  docs/saliency.md), so nothing more is claimed.
- `FLIPS`: the cell is flagged (on a burned-in marker, or outside the body) and filling the
  marker (or the cell) in from the film around it changes the call at the threshold in use:
  the call rests on it.
- `MOVES`: flagged; the called class's logit moves by more than `NEGLIGIBLE_LOGIT` and the
  call stands: said with the direction and the size, nothing about why.
- `UNMOVED`: flagged; the logit moves by at most `NEGLIGIBLE_LOGIT`: the model does not rest
  its score on it, so the map's strongest cell overstates it.
A flagged outcome is shown as a warning, `CLEAR` as a caption (`ShortcutCheck.flagged`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..stats.decision import CLASSES, call_label
from ..stats.display import format_probability
from .region_check import NEGLIGIBLE_LOGIT

__all__ = ["CLEAR", "FLIPS", "MOVES", "UNMOVED", "OUTCOMES", "ShortcutCheck"]

CLEAR, FLIPS, MOVES, UNMOVED = "clear", "flips", "moves", "unmoved"
OUTCOMES = (CLEAR, FLIPS, MOVES, UNMOVED)


@dataclass(frozen=True)
class ShortcutCheck:
    """One film's shortcut check for the class called at `threshold`. Logits are source-
    calibrated (as `Prediction.logit`), P(pneumonia) and `threshold` in the calibration shown;
    the `*_after` values are those with the flagged marker or cell filled in (None when
    nothing is flagged)."""
    called: str
    markers_on_film: int
    on_marker: bool
    outside_body: bool
    threshold: float
    logit_before: float | None = None
    logit_after: float | None = None
    p_before: float | None = None
    p_after: float | None = None

    @property
    def flagged(self) -> bool:
        return self.on_marker or self.outside_body

    @property
    def moved(self) -> float:
        """How far the fill moved the called class's logit (negative: away from the call)."""
        if self.logit_before is None or self.logit_after is None:
            return 0.0
        sign = 1.0 if self.called == "PNEUMONIA" else -1.0
        return sign * (self.logit_after - self.logit_before)

    @property
    def outcome(self) -> str:
        if not self.flagged or self.p_after is None:
            return CLEAR
        if call_label(self.p_after, self.threshold) != self.called:
            return FLIPS
        return MOVES if abs(self.moved) > NEGLIGIBLE_LOGIT else UNMOVED

    def _where(self) -> tuple[str, str]:
        """(where the strongest cell lies, what the fill removed)."""
        if self.on_marker:
            return ("on a burned-in marker (text printed on the film)"
                    + (", outside the body" if self.outside_body else "")), "the marker"
        return "outside the body, on the film's background", "that cell"

    @property
    def text(self) -> str:
        """The check in one or two sentences, every number as the screen prints it."""
        c, n = self.called, self.markers_on_film
        if self.outcome == CLEAR:
            if n == 0:
                return "The map's strongest cell lies on the body; no burned-in marker was found on this film."
            if n == 1:
                return "The map's strongest cell lies on the body, not on the one burned-in marker found on this film."
            return f"The map's strongest cell lies on the body, on none of the {n} burned-in markers found on this film."
        where, what = self._where()
        p = f"P(pneumonia) {format_probability(self.p_before)} → {format_probability(self.p_after)}"
        head = f"The map's strongest cell lies {where}. Filling {what} in from the film around it"
        if self.outcome == FLIPS:
            other = CLASSES[1 - CLASSES.index(c)]
            return (f"{head} turns the call from {c} to {other} ({p}, threshold {self.threshold:.3f}): the {c} "
                    f"call rests on {what}, not on the chest.")
        if self.outcome == MOVES:
            way = "raises" if self.moved > 0 else "lowers"
            return (f"{head} {way} the model's {c} score by {abs(self.moved):.1f} logits ({p}), and the {c} call "
                    f"stands at threshold {self.threshold:.3f}.")
        return (f"{head} leaves the model's {c} score almost unchanged ({self.moved:+.1f} logits; {p}): the score "
                f"does not rest on {what}, so the map's strongest cell overstates it.")
