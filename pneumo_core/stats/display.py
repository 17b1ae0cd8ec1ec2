"""How a probability is printed wherever a reader sees one (the screen, the PDF, the heatmap's
check): one function, in the lowest layer, so the report drawn in `io` and the pages print the
same characters."""
from __future__ import annotations

import math

__all__ = ["format_probability"]


def format_probability(p: float | None) -> str:
    """To 0.1%, and past the model's resolution as "> 99.9%" / "< 0.1%" rather than a
    certainty it does not have ("1.0000")."""
    if p is None or not math.isfinite(p):
        return "–"
    if p >= 0.999:
        return "> 99.9%"
    if p < 0.001:
        return "< 0.1%"
    return f"{100 * p:.1f}%"
