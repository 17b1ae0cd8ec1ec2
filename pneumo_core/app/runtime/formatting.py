"""How the app prints things: probabilities, numbers and CIs, user-supplied names made
safe for markdown and for download file names, and the disclaimer every page carries.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...reporting.words import (SOURCE_CALIBRATION, calibration_clause, calibration_label, format_probability,  # one home: the report's words
                                site_name)

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile

__all__ = ["DISCLAIMER", "SOURCE_CALIBRATION", "site_name", "calibration_label", "probability_label", "disclaimer",
    "escape_markdown", "safe_filename", "format_probability", "format_number", "format_ci", "PRESET_DIGITS",
    "preset_groups", "preset_label"]

DISCLAIMER = ("Research demo, not a diagnosis and not a medical device. Probabilities are calibrated on "
              "validation data from one paediatric centre; they may not transfer to your patients.")
PRESET_DIGITS = 3  # thresholds print (and the slider moves) to three decimals


def probability_label(site: str | None) -> str:
    """The name of the probability the app shows ("P(pneumonia), calibrated for <site>")."""
    return f"P(pneumonia), {calibration_label(site)}"


def disclaimer(site: str | SiteProfile | None) -> str:
    """`DISCLAIMER`, with its calibration sentence true for the calibration in use: a profile
    says what it was fitted on (labels, or a label-free adaptation); a bare name, whose kind
    is unknown here, is said as a site profile without claiming either."""
    head = "Research demo, not a diagnosis and not a medical device. "
    tail = "; the model itself was trained on one paediatric centre and may still miss what that centre never showed it."
    if site is None:
        return DISCLAIMER
    if isinstance(site, str):
        return head + f"Probabilities are calibrated for {site_name(site)} by a site profile (the sidebar says how)" + tail
    return head + "Probabilities are " + calibration_clause(site) + tail


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


def format_number(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if v is not None and np.isfinite(v) else "–"


def format_ci(v: dict[str, float], digits: int = 3) -> str:
    lo, hi = v.get("ci_low"), v.get("ci_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "–"
    return f"{lo:.{digits}f} – {hi:.{digits}f}"


def preset_groups(values: dict[str, float], default: str | None = None) -> dict[str, list[str]]:
    """{shown name: the preset names it stands for}: presets equal to `PRESET_DIGITS` decimals
    are one choice (two buttons with one number are not a choice), shown under the default
    preset's name when it is among them, else the first's."""
    by_value: dict[float, list[str]] = {}
    for name, t in values.items():
        by_value.setdefault(round(float(t), PRESET_DIGITS), []).append(name)
    return {(default if default in names else names[0]): names for names in by_value.values()}


def preset_label(name: str, values: dict[str, float], groups: dict[str, list[str]] | None = None) -> str:
    """"balanced (0.174)", or "balanced = screening (0.174)" when the two coincide."""
    groups = preset_groups(values) if groups is None else groups
    if name not in values:
        return "custom (slider)"
    names = [name, *(n for n in groups.get(name, []) if n != name)]
    return f"{' = '.join(names)} ({values[name]:.{PRESET_DIGITS}f})"
