"""The sidebar's operating point: the presets of the calibration in use (the model's
validation-chosen ones, or the site profile's), the threshold slider, and what the
threshold means for patients (`operating_point.describe`).

Presets that share a value (to the slider's three decimals) are one option naming all of
them ("balanced = screening (0.174)"): two buttons with one number are not a choice.
The controls follow a change of model or calibration when drawn (`_follow`): the slider
jumps to the chosen preset of the new presets; a custom threshold stays. Session-state
keys: `op` (the radio), `threshold_slider`, `operating_context` (the (model, calibration)
the slider was last set for) and `_preset_values` (this run's presets, for the radio's callback).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ..runtime.formatting import PRESET_DIGITS as DIGITS, escape_markdown, preset_groups, preset_label
from .operating_point import at as operating_point_at, describe
from ..runtime.resources import model_meta

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile
    from .state import Settings

__all__ = ["OP", "SLIDER", "CUSTOM", "presets", "rules", "default_preset", "preset_meanings", "operating_controls",
           "operating_point_label"]

OP, SLIDER, CONTEXT, CUSTOM = "op", "threshold_slider", "operating_context", "custom"


def presets(model: str, site: SiteProfile | None = None) -> dict[str, float]:
    th = site.thresholds if site is not None else model_meta(model).thresholds
    return {k: float(v) for k, v in th.items()}


def rules(model: str, site: SiteProfile | None = None) -> dict[str, str]:
    return dict(site.threshold_rules) if site is not None else dict(model_meta(model).threshold_rule)


def default_preset(model: str, site: SiteProfile | None = None) -> str:
    return site.default_threshold if site is not None else model_meta(model).default_threshold


def preset_meanings(model: str, site: SiteProfile | None = None, shipped: bool = False) -> list[str]:
    """Markdown, one per distinct preset: what it means for patients (`operating_point.describe`)."""
    values = presets(model, site)
    return [f"{' = '.join(names)}: " + describe(operating_point_at(model, values[p], site, shipped), values[p], site)
            for p, names in preset_groups(values, default_preset(model, site)).items()]


def _option_of(name: str | None, groups: dict[str, list[str]]) -> str | None:
    return next((o for o, names in groups.items() if name in names), None)


def _follow(model: str, site: SiteProfile | None, calibration: str, values: dict[str, float],
            groups: dict[str, list[str]]) -> None:
    """Before the radio is drawn: the chosen preset as one of this run's options, and after
    a change of model or calibration the slider at its value."""
    ss = st.session_state
    if ss.get(OP) != CUSTOM:
        ss[OP] = _option_of(ss.get(OP), groups) or _option_of(default_preset(model, site), groups) or next(iter(groups))
    context = (model, calibration)
    if ss.get(CONTEXT) != context or SLIDER not in ss:
        ss[CONTEXT] = context
        if ss[OP] in values:
            ss[SLIDER] = round(values[ss[OP]], DIGITS)
        ss.setdefault(SLIDER, 0.5)


def _on_radio() -> None:
    ss = st.session_state
    values = ss.get("_preset_values", {})
    if ss.get(OP) in values:
        ss[SLIDER] = round(values[ss[OP]], DIGITS)


def _to_custom() -> None:
    st.session_state[OP] = CUSTOM


def _rule_caption(option: str, groups: dict[str, list[str]], rule_of: dict[str, str], value: float) -> str | None:
    names = [n for n in groups.get(option, []) if n in rule_of]
    if not names:
        return None
    text = "; ".join(f"{n}: {escape_markdown(rule_of[n])}" for n in names)
    if len(groups[option]) > 1:
        return f"{' and '.join(groups[option])} coincide here at {value:.{DIGITS}f}. {text}."
    return text


def operating_controls(model: str, site: SiteProfile | None, calibration: str, shipped: bool = False) -> tuple[str, float]:
    """Draws the preset radio, the slider and the operating point in words (inside the
    sidebar); returns (the chosen option, a preset name or "custom"; the threshold)."""
    ss = st.session_state
    values, rule_of = presets(model, site), rules(model, site)
    groups = preset_groups(values, default_preset(model, site))
    _follow(model, site, calibration, values, groups)
    ss["_preset_values"] = values
    op = st.radio("Operating point", [*groups, CUSTOM], key=OP, on_change=_on_radio,
                  format_func=lambda o: preset_label(o, values, groups),
                  help="\n".join(f"- **{k}**: {escape_markdown(v)}" for k, v in rule_of.items()))
    slider = st.slider("Threshold: call PNEUMONIA when P(pneumonia) ≥", 0.0, 1.0, step=0.001, format="%.3f",
                       key=SLIDER, on_change=_to_custom)
    threshold = values[op] if op in values else float(slider)
    st.markdown(describe(operating_point_at(model, threshold, site, shipped), threshold, site))
    caption = _rule_caption(op, groups, rule_of, threshold)
    if caption:
        st.caption(caption)
    return op, float(threshold)


def operating_point_label(settings: Settings) -> str:
    """"balanced", "balanced = screening" where the two presets coincide, or "custom"."""
    if settings.operating_point == CUSTOM:
        return CUSTOM
    groups = preset_groups(presets(settings.model, settings.site), default_preset(settings.model, settings.site))
    chosen = settings.operating_point
    return " = ".join([chosen, *(n for n in groups.get(chosen, []) if n != chosen)])
