"""The sidebar's calibration choice: "source (validation data)", each site profile shipped
with the current model, and the profiles used in this session (an uploaded profile JSON, or
one made on the "Calibrate for your site" page, which hands it over with `use_profile`).
Session-state keys:

* `calibration`: the chosen option: `"source"`, `"shipped:<name>"` or `"session:<name>@<sha12>"`;
* `session_profiles`: {option key: SiteProfile} of the profiles used in this session;
* `calibration_pending`: an option chosen by `use_profile` after the sidebar was drawn,
  applied at the top of the next run (a widget's key cannot change once it is drawn);
* `calibration_error`: the last refused profile's message, shown until the choice changes;
* `profile_upload`: the sidebar's profile uploader.

The operating-point controls drawn after this select follow a change of calibration on
their own (`operating_controls`), so nothing here touches the threshold.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from streamlit.errors import StreamlitAPIException

from ..runtime.formatting import escape_markdown, site_name
from ..runtime.paths import DEFAULT_MODEL
from ..runtime.resources import import_site, model_meta, shipped_site_files, site_profile
from .state import SOURCE

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile

__all__ = ["SOURCE", "CALIBRATION", "SESSION_PROFILES", "PENDING", "CALIBRATION_ERROR", "PROFILE_UPLOAD",
    "session_key", "session_profiles", "options", "resolve", "select", "use_profile", "apply_pending",
    "calibration_select"]

CALIBRATION, SESSION_PROFILES, PENDING = "calibration", "session_profiles", "calibration_pending"
CALIBRATION_ERROR, PROFILE_UPLOAD = "calibration_error", "profile_upload"


def session_key(profile: SiteProfile) -> str:
    """The option key of a profile used in this session: two sites' profiles, or one site's
    for two models, never overwrite each other; a new fit of the same ones replaces the old."""
    return f"session:{profile.name}@{profile.model_sha256[:12]}"


def session_profiles() -> dict[str, SiteProfile]:
    """{option key: profile} of the profiles used in this session."""
    return st.session_state.setdefault(SESSION_PROFILES, {})


def _model_sha(model: str) -> str:
    return model_meta(model).model_sha256


def options(model: str) -> dict[str, str]:
    """{option key: label} for the calibration select: source, the shipped profiles, and the
    session's profiles for these weights. Listing reads no profile (no torch import)."""
    out = {SOURCE: "source (validation data)"}
    out |= {f"shipped:{name}": f"{site_name(name)} (shipped)" for name in shipped_site_files(model)}
    sha = _model_sha(model)
    out |= {k: f"{site_name(p.name)} (this session)" for k, p in session_profiles().items() if p.model_sha256 == sha}
    return out


def resolve(model: str, key: str) -> tuple[SiteProfile | None, str | None]:
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


def select(key: str) -> None:
    """Selects an option from a callback or before the select is drawn."""
    ss = st.session_state
    ss[CALIBRATION] = key
    ss.pop(CALIBRATION_ERROR, None)


def apply_pending() -> None:
    """The option `use_profile` chose after the select was drawn, at the top of the next run."""
    if PENDING in st.session_state:
        select(st.session_state.pop(PENDING))


def _on_change() -> None:
    st.session_state.pop(CALIBRATION_ERROR, None)


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
    select(session_key(profile))


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
                                 "calibrate the site again for this model."))
        return
    key = session_key(profile)
    session_profiles()[key] = profile
    try:
        select(key)
    except StreamlitAPIException:  # the select is already drawn in this run
        ss[PENDING] = key
        if rerun:
            st.rerun()


def calibration_select(model: str) -> SiteProfile | None:
    """Draws the calibration select, the chosen profile's sample and the profile uploader
    (inside the sidebar); returns the profile in use, None for source."""
    ss = st.session_state
    opts = options(model)
    if ss.get(CALIBRATION) not in opts:  # a session profile of the other model's weights
        select(SOURCE)
    site, problem = resolve(model, ss[CALIBRATION])
    if problem:  # a shipped profile that does not fit: said, and back to source
        select(SOURCE)
        ss[CALIBRATION_ERROR] = problem
    st.selectbox("Calibration", list(opts), key=CALIBRATION, format_func=opts.get, on_change=_on_change,
                 help="What turns the model's score into a probability. Source: fitted on the model's own "
                      "validation data. A site profile recalibrates it on a labelled sample of one hospital's "
                      "films, and brings that site's thresholds; an adapted one is made from the site's "
                      "unlabelled films, without labels (its page says what it changed and what to expect).")
    if site is not None:
        st.caption(escape_markdown(site.describe()[:1].upper() + site.describe()[1:] + "."))
    with st.expander("Use a site profile file"):
        st.file_uploader("Site profile (JSON)", type=["json"], key=PROFILE_UPLOAD, on_change=_on_upload,
                         help="Made by `pneumo site calibrate` or `pneumo site adapt`, or their pages; it "
                              "must be made for this model's weights.")
    if ss.get(CALIBRATION_ERROR):
        st.error(escape_markdown(ss[CALIBRATION_ERROR]))
    return site
