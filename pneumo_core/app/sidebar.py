"""The sidebar every page shares, and the `Settings` it hands to the pages.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from .formatting import DISCLAIMER
from .paths import DEFAULT_MODEL, WEIGHTS_DIR, list_models
from .resources import model_meta, saliency_methods

__all__ = ["Settings", "sidebar", "sidebar_saliency", "settings"]


@dataclass(frozen=True)
class Settings:
    model: str
    operating_point: str  # a preset name from model.json, or "custom"
    threshold: float
    method: str  # a key of saliency.METHODS
    opacity: float


def _presets(model: str) -> dict[str, float]:
    return {k: float(v) for k, v in model_meta(model)["thresholds"].items()}


def _sync_slider() -> None:
    op, presets = st.session_state["op"], _presets(st.session_state["model"])
    if op in presets:
        st.session_state["threshold_slider"] = round(presets[op], 3)


def _to_custom() -> None:
    st.session_state["op"] = "custom"


def _preset_label(name: str, presets: dict[str, float]) -> str:
    """Says so when two presets coincide, so two identical buttons do not look like a choice."""
    if name not in presets:
        return "custom (slider)"
    same = [o for o, t in presets.items() if o != name and t == presets[name] and o < name]
    return f"{name} ({presets[name]:.3f}" + (f", same as {same[0]} here)" if same else ")")


def sidebar() -> Settings:
    """Draws the model and operating-point part of the sidebar every page shares and
    stores the choices in session state. The saliency controls come after the page
    (`sidebar_saliency`): they need the CAM stack, which must not delay the page."""
    models = list_models(WEIGHTS_DIR)
    ss = st.session_state
    if ss.get("model") not in models:
        ss["model"] = DEFAULT_MODEL if DEFAULT_MODEL in models else models[0]
    meta = model_meta(ss["model"])
    ss.setdefault("op", meta.get("default_threshold", "balanced"))
    ss.setdefault("threshold_slider", round(_presets(ss["model"]).get(ss["op"], 0.5), 3))
    ss.setdefault("method", "gradcam")
    ss.setdefault("opacity", 0.5)
    with st.sidebar:
        st.header("Settings")
        model = st.selectbox("Model", models, key="model", on_change=_sync_slider,
                             help="Both shipped models; each has its own validation-chosen thresholds.")
        meta = model_meta(model)
        st.caption(meta.get("description", ""))
        presets = _presets(model)
        rules = meta.get("threshold_rule", {})
        op = st.radio("Operating point", [*presets, "custom"], key="op", on_change=_sync_slider,
                      format_func=lambda o: _preset_label(o, presets),
                      help="\n".join(f"- **{k}**: {v}" for k, v in rules.items()))
        slider = st.slider("Threshold: call PNEUMONIA when P(pneumonia) ≥", 0.0, 1.0, step=0.001, format="%.3f",
                           key="threshold_slider", on_change=_to_custom)
        threshold = presets[op] if op in presets else float(slider)
        if op in rules:
            st.caption(f"{op}: {rules[op]}")
    s = Settings(model, op, float(threshold), str(ss["method"]), float(ss["opacity"]))
    ss["settings"] = s
    return s


def sidebar_saliency() -> None:
    """The heatmap controls, drawn after the page (see `sidebar`); a change reruns the
    script and the page reads the new value from session state."""
    methods = saliency_methods()
    if st.session_state.get("method") not in methods:
        st.session_state["method"] = "gradcam" if "gradcam" in methods else next(iter(methods))
    with st.sidebar:
        st.divider()
        st.selectbox("Saliency method", list(methods), key="method", format_func=lambda m: methods[m].label,
                     help="Grad-CAM family: class-specific. EigenCAM: not class-specific.")
        st.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="opacity")
        st.divider()
        st.caption(DISCLAIMER)


def settings() -> Settings:
    """The sidebar's choices, for pages (the entrypoint draws the sidebar first)."""
    s = st.session_state.get("settings")
    if s is None:
        # Only on a server's very first run, when it opens a deep link (/evaluation): until
        # st.navigation has run once, Streamlit treats pages/ as legacy auto-discovered
        # pages and runs the page file without the entrypoint. st.navigation switches that
        # off for good; doing it here and rerunning gives this visitor the full app.
        try:
            from streamlit.runtime.pages_manager import PagesManager
            PagesManager.uses_pages_directory = False
        except ImportError:
            return sidebar()
        st.rerun()
    return s
