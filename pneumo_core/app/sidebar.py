"""The sidebar every page shares, and the `Settings` it hands to the pages.

Calibration: "source (validation data)", each site profile shipped with the current model,
and the profiles used in this session (an uploaded profile JSON, or one made on the
"Calibrate for your site" page, which hands it over with `use_profile`). Under a site
profile the operating-point presets are the profile's. Session-state keys:

* `calibration`: the chosen option: `"source"`, `"shipped:<name>"` or `"session:<name>@<sha12>"`;
* `session_profiles`: {option key: SiteProfile} of the profiles used in this session;
* `calibration_pending`: an option chosen by `use_profile` after the sidebar was drawn,
  applied at the top of the next run (a widget's key cannot change once it is drawn);
* `calibration_error`: the last refused profile's message, shown until the choice changes;
* `profile_upload`: the sidebar's profile uploader.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.errors import StreamlitAPIException

from .formatting import calibration_label, disclaimer, escape_markdown, probability_label, site_name
from .paths import DEFAULT_MODEL, WEIGHTS_DIR, list_models
from .resources import import_site, model_meta, saliency_methods, shipped_site_files, site_profile

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile

__all__ = ["Settings", "sidebar", "sidebar_saliency", "settings", "use_profile", "session_profiles", "session_key",
    "SOURCE", "CALIBRATION", "SESSION_PROFILES", "PENDING", "CALIBRATION_ERROR", "PROFILE_UPLOAD"]

SOURCE = "source"
CALIBRATION, SESSION_PROFILES, PENDING = "calibration", "session_profiles", "calibration_pending"
CALIBRATION_ERROR, PROFILE_UPLOAD = "calibration_error", "profile_upload"


@dataclass(frozen=True)
class Settings:
    model: str
    operating_point: str  # a preset name (the model's, or the site profile's), or "custom"
    threshold: float
    method: str  # a key of saliency.METHODS
    opacity: float
    site: SiteProfile | None = field(default=None, compare=False, repr=False)  # None: calibrated on validation data
    calibration: str = SOURCE  # the sidebar option (see the module docstring)

    @property
    def calibration_label(self) -> str:
        """"calibrated on validation data" / "calibrated for <site>"."""
        return calibration_label(self.site.name if self.site else None)

    @property
    def probability_label(self) -> str:
        """"P(pneumonia), calibrated on validation data" / "P(pneumonia), calibrated for <site>"."""
        return probability_label(self.site.name if self.site else None)

    @property
    def shipped_site(self) -> bool:
        return self.calibration.startswith("shipped:")


def session_key(profile: SiteProfile) -> str:
    """The option key of a profile used in this session: two sites' profiles, or one site's
    for two models, never overwrite each other; a new fit of the same ones replaces the old."""
    return f"session:{profile.name}@{profile.model_sha256[:12]}"


def session_profiles() -> dict[str, SiteProfile]:
    """{option key: profile} of the profiles used in this session."""
    return st.session_state.setdefault(SESSION_PROFILES, {})


def _model_sha(model: str) -> str:
    return model_meta(model).model_sha256


def _options(model: str) -> dict[str, str]:
    """{option key: label} for the calibration select: source, the shipped profiles, and the
    session's profiles for these weights. Listing reads no profile (no torch import)."""
    options = {SOURCE: "source (validation data)"}
    options |= {f"shipped:{name}": f"{site_name(name)} (shipped)" for name in shipped_site_files(model)}
    sha = _model_sha(model)
    options |= {k: f"{site_name(p.name)} (this session)" for k, p in session_profiles().items()
                if p.model_sha256 == sha}
    return options


def _resolve(model: str, key: str) -> tuple[SiteProfile | None, str | None]:
    """(the profile an option stands for, or None for source; the reason it cannot be used)."""
    if key == SOURCE:
        return None, None
    if key.startswith("shipped:"):
        name = key.split(":", 1)[1]
        path = shipped_site_files(model).get(name)
        if path is None:
            return None, None
        site = import_site()
        try:
            profile = site_profile(path)
            profile.check_model(model, _model_sha(model))
        except site.SiteProfileError as exc:
            return None, f"The shipped site profile {site_name(name)} cannot be used: {exc}"
        return profile, None
    profile = session_profiles().get(key)
    if profile is None or profile.model_sha256 != _model_sha(model):
        return None, None
    return profile, None


def _presets(model: str, site: SiteProfile | None = None) -> dict[str, float]:
    th = site.thresholds if site is not None else model_meta(model).thresholds
    return {k: float(v) for k, v in th.items()}


def _rules(model: str, site: SiteProfile | None) -> dict[str, str]:
    return dict(site.threshold_rules) if site is not None else dict(model_meta(model).threshold_rule)


def _default_op(model: str, site: SiteProfile | None) -> str:
    return site.default_threshold if site is not None else model_meta(model).default_threshold


def _sync_slider() -> None:
    """After a model or calibration change: the slider jumps to the chosen preset of the new
    presets (a custom threshold stays, as it does for a model change)."""
    ss = st.session_state
    model = ss["model"]
    site, _ = _resolve(model, ss.get(CALIBRATION, SOURCE))
    presets = _presets(model, site)
    if ss.get("op") not in presets and ss.get("op") != "custom":
        ss["op"] = _default_op(model, site)
    if ss["op"] in presets:
        ss["threshold_slider"] = round(presets[ss["op"]], 3)


def _on_calibration_change() -> None:
    st.session_state.pop(CALIBRATION_ERROR, None)
    _sync_slider()


def _select(key: str) -> None:
    """Selects an option from a callback or before the sidebar is drawn, and resyncs the slider."""
    ss = st.session_state
    ss[CALIBRATION] = key
    ss.pop(CALIBRATION_ERROR, None)
    _sync_slider()


def _on_upload() -> None:
    """Reads an uploaded profile JSON: refused (with the reason kept for the sidebar) when it
    is not a profile or was fitted for other weights, else added to the session and chosen."""
    ss = st.session_state
    upload = ss.get(PROFILE_UPLOAD)
    if upload is None:
        return
    site = import_site()
    model = ss["model"]
    try:
        profile = site.load_profile(upload.getvalue())
        profile.check_model(model, _model_sha(model))
    except site.SiteProfileError as exc:
        ss[CALIBRATION_ERROR] = f"{upload.name} was not used: {exc}"
        return
    session_profiles()[session_key(profile)] = profile
    _select(session_key(profile))


def use_profile(profile: SiteProfile, rerun: bool = True) -> None:
    """Adds a profile (made on the "Calibrate for your site" page) to this session's
    calibrations and chooses it. A profile for other weights than the current model's is
    refused with an st.error. Called from a button's on_click, it takes effect in the run that
    follows; called in the page's body (the sidebar is already drawn), it reruns the script
    at once (unless `rerun=False`), so the sidebar and every number show the new calibration."""
    ss = st.session_state
    model = ss.get("model") or DEFAULT_MODEL
    if profile.model_sha256 != _model_sha(model):
        st.error(escape_markdown(f"Site profile {site_name(profile.name)} was fitted for other weights "
                                 f"({profile.model} {profile.model_sha256[:12]}...) than the model in use ({model}); "
                                 "calibrate the site again for this model."), icon=":material/error:")
        return
    key = session_key(profile)
    session_profiles()[key] = profile
    try:
        _select(key)
    except StreamlitAPIException:  # the select is already drawn in this run
        ss[PENDING] = key
        if rerun:
            st.rerun()


def sidebar() -> Settings:
    """Draws the model, calibration and operating-point part of the sidebar every page
    shares and stores the choices in session state. The saliency controls come after the
    page (`sidebar_saliency`): they need the CAM stack, which must not delay the page."""
    models = list_models(WEIGHTS_DIR)
    ss = st.session_state
    if ss.get("model") not in models:
        ss["model"] = DEFAULT_MODEL if DEFAULT_MODEL in models else models[0]
    session_profiles()
    if PENDING in ss:
        _select(ss.pop(PENDING))
    ss.setdefault("op", model_meta(ss["model"]).default_threshold)
    ss.setdefault("method", "gradcam")
    ss.setdefault("opacity", 0.5)
    with st.sidebar:
        st.header("Settings")
        model = st.selectbox("Model", models, key="model", on_change=_sync_slider,
                             help="Both shipped models; each has its own validation-chosen thresholds.")
        meta = model_meta(model)
        st.caption(meta.description)

        options = _options(model)
        if ss.get(CALIBRATION) not in options:  # a session profile of the other model's weights
            _select(SOURCE)
        site, problem = _resolve(model, ss[CALIBRATION])
        if problem:  # a shipped profile that does not fit: said, and back to source
            _select(SOURCE)
            ss[CALIBRATION_ERROR] = problem
        st.selectbox("Calibration", list(options), key=CALIBRATION, format_func=options.get,
                     on_change=_on_calibration_change,
                     help="What turns the model's score into a probability. Source: fitted on the model's own "
                          "validation data. A site profile recalibrates it on a labelled sample of one hospital's "
                          "films, and brings that site's thresholds.")
        if site is not None:
            st.caption(f"Calibrated for {site_name(site.name)} on {sum(site.counts.values())} labelled films "
                       f"({site.counts.get('NORMAL', 0)} NORMAL, {site.counts.get('PNEUMONIA', 0)} PNEUMONIA).")
        with st.expander("Use a site profile file"):
            st.file_uploader("Site profile (JSON)", type=["json"], key=PROFILE_UPLOAD, on_change=_on_upload,
                             help="Made by `python -m pneumo_core calibrate-site` or the Calibrate for your site "
                                  "page; it must be fitted for this model's weights.")
        if ss.get(CALIBRATION_ERROR):
            st.error(escape_markdown(ss[CALIBRATION_ERROR]), icon=":material/error:")

        presets = _presets(model, site)
        rules = _rules(model, site)
        if ss.get("op") not in presets and ss.get("op") != "custom":
            ss["op"] = _default_op(model, site)
        ss.setdefault("threshold_slider", round(presets.get(ss["op"], 0.5), 3))
        op = st.radio("Operating point", [*presets, "custom"], key="op", on_change=_sync_slider,
                      format_func=lambda o: _preset_label(o, presets),
                      help="\n".join(f"- **{k}**: {escape_markdown(v)}" for k, v in rules.items()))
        slider = st.slider("Threshold: call PNEUMONIA when P(pneumonia) ≥", 0.0, 1.0, step=0.001, format="%.3f",
                           key="threshold_slider", on_change=_to_custom)
        threshold = presets[op] if op in presets else float(slider)
        if op in rules:
            st.caption(f"{op}: {escape_markdown(rules[op])}")
    s = Settings(model, op, float(threshold), str(ss["method"]), float(ss["opacity"]), site,
                 ss[CALIBRATION] if site is not None else SOURCE)
    ss["settings"] = s
    return s


def _to_custom() -> None:
    st.session_state["op"] = "custom"


def _preset_label(name: str, presets: dict[str, float]) -> str:
    """Says so when two presets coincide, so two identical buttons do not look like a choice."""
    if name not in presets:
        return "custom (slider)"
    same = [o for o, t in presets.items() if o != name and t == presets[name] and o < name]
    return f"{name} ({presets[name]:.3f}" + (f", same as {same[0]} here)" if same else ")")


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
        s = st.session_state.get("settings")
        st.caption(disclaimer(s.site.name if s is not None and s.site is not None else None))


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
