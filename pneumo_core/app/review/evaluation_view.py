"""The test split as the sidebar's calibration reads it, cached: the source evaluation, the
site study's out-of-fold one for a profile fitted on the split, the model as shipped under an
adapted profile, or the split recalibrated by any other profile (cached on the profile's key,
`resources.profile_key`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ..runtime.paths import resolve_model_dir
from ..runtime.resources import eval_report, file_stamp, import_predictor, profile_key, site_study_report
from . import eval_views

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile
    from .eval_views import EvalView

__all__ = ["evaluation_view"]


@st.cache_data(show_spinner="Recalibrating the test split for this site…", max_entries=16)
def _recalibrated(model: str, eval_stamp: int, key: str, _profile: SiteProfile) -> dict:
    import_predictor()  # `evaluate` imports torch: after the warm-up has
    return eval_views.recalibrated_eval(eval_report(model), _profile)


def evaluation_view(model: str, site: SiteProfile | None, shipped: bool = False) -> EvalView | None:
    """The test split as the chosen calibration reads it (see `eval_views`), or None when the
    model has no eval_test.json. Recalibrating is cached on the profile (`profile_key`)."""
    ev = eval_report(model)
    if ev is None:
        return None
    if site is None:
        return eval_views.source_view(ev)
    if site.adaptation and site.adaptation.get("layers"):  # a network of its own: not re-scored here
        return eval_views.adapted_view(ev, site)
    # a labelled profile, or one that moved only the threshold: the same scores, recalibrated
    # (the site study's out-of-fold reading belongs to labelled profiles fitted on this split)
    fitted = eval_views.fitted_on_split(site, ev, shipped)
    study = site_study_report(model) if fitted and not site.adaptation else None
    recal = None if study is not None else _recalibrated(model, file_stamp(resolve_model_dir(model) / "eval_test.json")[1],
                                                         profile_key(site), site)
    return eval_views.site_view(site, ev, study, recal, shipped)
