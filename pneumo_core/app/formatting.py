"""How the app prints things: probabilities, numbers and CIs, user-supplied names made
safe for markdown and for download file names, and the disclaimer every page carries.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["DISCLAIMER", "escape_markdown", "safe_filename", "format_probability", "format_number", "format_ci"]

DISCLAIMER = ("Research demo, not a diagnosis and not a medical device. Probabilities are calibrated on "
              "validation data from one paediatric centre; they may not transfer to your patients.")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def escape_markdown(text: str) -> str:
    """Backslash-escapes everything Streamlit markdown would interpret (emphasis, links,
    HTML, `$` maths, `:colour[...]` directives), and flattens newlines to spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def safe_filename(name: str, suffix: str = "", max_len: int = 60) -> str:
    """A download name derived from user input: no directories, no odd characters."""
    stem = Path(str(name).replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem.strip(".") else stem
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:max_len] or "case"
    return stem + suffix


def format_probability(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    if p >= 0.999:
        return "> 99.9%"
    if p < 0.001:
        return "< 0.1%"
    return f"{100 * p:.1f}%"


def format_number(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if v is not None and np.isfinite(v) else "–"


def format_ci(v: dict[str, float], digits: int = 3) -> str:
    lo, hi = v.get("ci_low"), v.get("ci_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "–"
    return f"{lo:.{digits}f} – {hi:.{digits}f}"
