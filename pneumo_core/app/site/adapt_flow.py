"""Adapt to your site (no labels): a batch of the site's own films, already scored by the
reading room, becomes an adapted site profile (`inference.site_adaptation`, the one path
the command line's `adapt-site` takes too), handed to the sidebar for this session. Offered
on Diagnose when the drift alarm fires on a batch, and on its own page; the drift alarm is
then run again on the adapted model, so the reader sees whether the batch still looks
shifted. Nothing is stored: the profile lives in this session, or in its download."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from ...io.budget import ServerBusy, heavy_work
from ..access import identity
from ..runtime.formatting import escape_markdown, site_name
from ..runtime.resources import get_predictor
from .site_page import use_in_session

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile
    from ..reading.cases import CaseResult

__all__ = ["AdaptOutcome", "LAST", "min_films", "adapt_batch", "adapt_and_use", "summary_lines", "show_last", "offer"]

LAST = "site_adapted_last"  # session key: the last adaptation's outcome, shown after the rerun it causes


@dataclass
class AdaptOutcome:
    profile: SiteProfile | None
    used: int = 0
    not_used: int = 0
    error: str | None = None


def min_films() -> int:
    from ...adaptation.method import MIN_FILMS
    return MIN_FILMS


def adapt_batch(model: str, results: list[CaseResult], name: str) -> AdaptOutcome:
    """The adapted profile of a scored batch (films the gate withheld, or unread, are not used)."""
    from ...calibration.site import SiteProfileError
    from ...inference.site_adaptation import adapt_predictions
    try:
        with heavy_work():
            site = adapt_predictions(get_predictor(model), [r.prediction for r in results], name=name or "my site")
    except (SiteProfileError, ServerBusy) as exc:
        return AdaptOutcome(None, error=str(exc))
    identity.audit("profile_made", model=site.profile.model, site_sha256=site.profile.files_sha256, count=site.used)
    return AdaptOutcome(site.profile, site.used, len(site.withheld))


def adapt_and_use(model: str, results: list[CaseResult], name: str) -> None:
    """A button's callback: adapt, hand the profile to the sidebar, and keep the outcome for
    the run that follows (which re-scores the batch on the adapted model and re-runs the
    drift alarm)."""
    outcome = adapt_batch(model, results, name)
    st.session_state[LAST] = outcome
    if outcome.profile is not None:
        use_in_session(outcome.profile)


def summary_lines(profile: SiteProfile) -> list[str]:
    """Plain-text lines (no markup: the site name is the user's)."""
    a = profile.adaptation or {}
    return [f"{profile.describe()}.",
            f"What was adapted: {a.get('description', 'nothing')}.",
            f"Estimated pneumonia prevalence at {site_name(profile.name)}: {a.get('estimated_prevalence', 0):.1%} "
            f"(the model's source: {a.get('source_prevalence', 0):.1%}).",
            *(f"{k} threshold {v:.3f}: {profile.threshold_rules.get(k, '')}" for k, v in profile.thresholds.items()),
            *profile.warnings]


def show_last() -> None:
    """The last adaptation's outcome, once."""
    outcome = st.session_state.pop(LAST, None)
    if outcome is None:
        return
    if outcome.error:
        st.error(escape_markdown(outcome.error))
    else:
        st.success(escape_markdown(f"Adapted on {outcome.used} films ({outcome.not_used} not used) and in use in this "
                                   "session. The drift alarm below has been run again on the adapted model."))
        st.text("\n".join(summary_lines(outcome.profile)))


def offer(model: str, results: list[CaseResult], site: SiteProfile | None, shifted: bool | None) -> None:
    """Under a drift alarm that fired, and no adapted profile in use: the button, or why not."""
    show_last()
    if not shifted or (site is not None and site.adaptation):
        return
    n = sum(r.ok for r in results)
    if n < min_films():
        st.caption(f"Adapting the model to this site without labels needs at least {min_films()} readable films; "
                   f"this batch has {n}. Or calibrate with a labelled sample (Calibrate for your site).")
        return
    name = st.text_input("Site name for the adapted profile", value="my site", max_chars=60, key="adapt_site_name")
    st.button(f"Adapt to this site from these {n} films (no labels)", on_click=adapt_and_use,
              args=(model, results, name), key="adapt_site_offer",
              help="Re-estimates the model's normalisation on these films and the site's prevalence, without "
                   "labels; the probabilities, calls and drift verdict are then the adapted model's.")
