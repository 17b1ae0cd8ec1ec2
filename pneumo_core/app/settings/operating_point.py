"""The operating point of the sidebar's settings, in clinical words, cached for the app:
`evaluation.operating_point` keyed on the model, its weights and evaluation files, the
threshold and the calibration, so a slider move is a dictionary look-up after the first."""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ...evaluation.operating_point import OperatingPoint, operating_point
from ...reporting.case import NO_ESTIMATE, NO_ESTIMATE_ADAPTED, no_estimate
from ..runtime.paths import resolve_model_dir
from ..runtime.resources import profile_key, weights_stamp

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile
    from .state import Settings

__all__ = ["current", "at", "describe", "NO_ESTIMATE", "NO_ESTIMATE_ADAPTED", "no_estimate"]

def _files_stamp(model: str) -> int:
    d = resolve_model_dir(model)
    stamp = weights_stamp(model)
    for name in ("eval_test.json", "site_study_test.json"):  # a re-run evaluation or study is re-read
        p = d / name
        if p.is_file():
            s = p.stat()
            stamp = stamp * 31 + (s.st_mtime_ns ^ s.st_size)
    return stamp


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(model: str, stamp: int, threshold: float, key: str, shipped: bool,
            _site: SiteProfile | None) -> OperatingPoint | None:
    return operating_point(resolve_model_dir(model), threshold, _site, shipped)


def at(model: str, threshold: float, site: SiteProfile | None = None, shipped: bool = False) -> OperatingPoint | None:
    """Sensitivity and specificity expected at `threshold` (None: no honest estimate there)."""
    return _cached(model, _files_stamp(model), float(threshold), profile_key(site), bool(shipped and site is not None),
                   site)


def current(settings: Settings) -> OperatingPoint | None:
    """The operating point of the sidebar's model, threshold and calibration."""
    return at(settings.model, settings.threshold, settings.site, settings.shipped_site)


def describe(point: OperatingPoint | None, threshold: float, site: SiteProfile | None = None) -> str:
    """Markdown: the operating point in words, then its numbers with 95% intervals and their
    source; or why there is none (`no_estimate`). The text holds no user-supplied name."""
    if point is None:
        return f"**At threshold {threshold:.3f}**: {no_estimate(site)}"
    numbers = point.in_numbers()
    return f"**At threshold {threshold:.3f}** the model {point.in_words()}.  \n{numbers[:1].upper()}{numbers[1:]}."
