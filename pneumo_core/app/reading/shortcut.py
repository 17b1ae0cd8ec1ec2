"""The shortcut check beside a case's heatmap (`inference.shortcut` finds it, `reporting.
shortcut_check` words it): cached on the same keys as the map it reads, so stepping back to a
case or moving a slider never runs it again.

The logits are kept source-calibrated (as `Prediction.logit`) and turned into the P the page
shows by the one function the case's own P and its region check come from
(`out_of_fold.honest_probabilities`): the profile's rule, out of fold for a test film under a
profile fitted on the test split.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ...evaluation.out_of_fold import honest_probabilities
from ...io.budget import ServerBusy, heavy_work
from ...reporting.shortcut_check import ShortcutCheck
from ..runtime.paths import DATA_DIR
from ..runtime.resources import get_predictor, weights_stamp

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile
    from ...inference.shortcut import ShortcutFinding
    from ..settings.state import Settings
    from .cases import CaseResult
    from .scoring import Heatmap

__all__ = ["shortcut_check"]


@st.cache_data(show_spinner=False, max_entries=256)
def _finding(model: str, weights: int, adaptation: str, digest: str, method: str, target: str,
             _model_input: np.ndarray, _heatmap: np.ndarray,
             _site: SiteProfile | None) -> tuple[ShortcutFinding, tuple[float, ...]]:
    from ...inference.shortcut import find_shortcut
    predictor = get_predictor(model, _site if adaptation else None)
    with heavy_work():  # a batch of two (the film, its fill) when the strongest cell is flagged
        found = find_shortcut(predictor, _model_input, _heatmap)
    if not found.flagged:
        return found, ()
    t = predictor.bundle.temperature
    return found, (found.logit_before / t, found.logit_after / t)


def shortcut_check(case: CaseResult, heatmap: Heatmap, settings: Settings) -> ShortcutCheck | None:
    """The case's shortcut check for the class its map explains at `settings.threshold`; None for
    a film without a model input, and (`io.budget.ServerBusy`) while the server is at its limit."""
    if case.model_input is None:
        return None
    site = settings.site
    adaptation = site.adaptation_digest if site is not None else ""
    try:
        found, scores = _finding(settings.model, weights_stamp(settings.model), adaptation, case.digest,
                                 heatmap.method, heatmap.target_class, case.model_input, heatmap.heatmap, site)
    except ServerBusy:
        return None
    where = (heatmap.target_class, found.markers_on_film, found.on_marker, found.outside_body, settings.threshold)
    if not scores:
        return ShortcutCheck(*where)
    logit_before, logit_after = scores
    (p_before, p_after), _ = honest_probabilities([logit_before, logit_after], case.digest,
                                                  get_predictor(settings.model, site), DATA_DIR)
    return ShortcutCheck(*where, logit_before, logit_after, float(p_before), float(p_after))
