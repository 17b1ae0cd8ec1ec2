"""The sidebar every page shares, and the `Settings` it hands to the pages: the model, then
the calibration (`calibration_choice`), then the operating point (`operating_controls`);
the saliency controls come after the page (`sidebar_saliency`).
"""
from __future__ import annotations

import streamlit as st

from ...inference.saliency_default import default_method
from ..access.login import account
from ..runtime.formatting import disclaimer
from ..runtime.paths import DEFAULT_MODEL, WEIGHTS_DIR, list_models
from ..runtime.resources import model_meta, saliency_methods
from .calibration_choice import (CALIBRATION, CALIBRATION_ERROR, PENDING, PROFILE_UPLOAD, SESSION_PROFILES, SOURCE,
                                 apply_pending, calibration_select, session_key, session_profiles, use_profile)
from .operating_controls import operating_controls
from .state import Settings

__all__ = ["Settings", "sidebar", "sidebar_saliency", "settings", "use_profile", "session_profiles", "session_key",
    "SOURCE", "CALIBRATION", "SESSION_PROFILES", "PENDING", "CALIBRATION_ERROR", "PROFILE_UPLOAD"]


def sidebar() -> Settings:
    """Draws the model, calibration and operating-point part of the sidebar every page
    shares and stores the choices in session state. The saliency controls come after the
    page (`sidebar_saliency`): they need the CAM stack, which must not delay the page."""
    models = list_models(WEIGHTS_DIR)
    ss = st.session_state
    if ss.get("model") not in models:
        ss["model"] = DEFAULT_MODEL if DEFAULT_MODEL in models else models[0]
    session_profiles()
    apply_pending()
    ss.setdefault("method", default_method(model_meta(ss["model"]).architecture))
    ss.setdefault("opacity", 0.5)
    with st.sidebar:
        account()  # who is signed in, and the log-out button (with login only)
        st.header("Settings")
        model = st.selectbox("Model", models, key="model",
                             help="Both shipped models; each has its own validation-chosen thresholds.")
        st.caption(model_meta(model).description)
        site = calibration_select(model)
        calibration = ss[CALIBRATION] if site is not None else SOURCE
        op, threshold = operating_controls(model, site, calibration, calibration.startswith("shipped:"))
    s = Settings(model, op, threshold, str(ss["method"]), float(ss["opacity"]), site, calibration)
    ss["settings"] = s
    return s


def sidebar_saliency() -> None:
    """The heatmap controls, drawn after the page (see `sidebar`); a change reruns the
    script and the page reads the new value from session state."""
    methods = saliency_methods()
    if st.session_state.get("method") not in methods:
        preferred = default_method(model_meta(st.session_state["model"]).architecture)
        st.session_state["method"] = preferred if preferred in methods else next(iter(methods))
    with st.sidebar:
        st.divider()
        st.selectbox("Saliency method", list(methods), key="method", format_func=lambda m: methods[m].label,
                     help="The default is the fastest map that passed the faithfulness rule on validation films "
                          "(LayerCAM weighted by a 3x3 occlusion for efficientnet_lite0, linearised occlusion "
                          "for paper_cnn). Occlusion: exact, blanking each cell of a 14x14 grid (slow, the most "
                          "faithful). Grad-CAM family: class-specific, fast. EigenCAM: the dominant activation "
                          "pattern, the same map whatever the call.")
        st.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="opacity")
        st.divider()
        s = st.session_state.get("settings")
        st.caption(disclaimer(s.site if s is not None else None))


def settings() -> Settings:
    """The sidebar's choices, for pages (the entrypoint draws the sidebar first)."""
    s = st.session_state.get("settings")
    return s if s is not None else sidebar()
