"""Adapt to your site (no labels): a batch of the site's own films, already scored by the
reading room, becomes an adapted site profile (`inference.site_adaptation`, the one path
the command line's `site adapt` takes too), handed to the sidebar for this session. Offered
on Diagnose when the drift alarm fires on a batch, and on its own page.

After adapting, the page says what changed (`adaptation.changes`: how many calls, and which,
each opening its case), where the threshold now sits, what the validation study expects of
the method for patients (`adaptation.expected`), and what the drift alarm says on the adapted
model, with what to do next (the words: `adapt_words`). Nothing is stored: the profile lives in this session, or in its
download."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import streamlit as st

from ...adaptation.changes import CallChanges, changed_calls
from ...io.budget import ServerBusy, heavy_work
from ..access import identity
from ..runtime.formatting import escape_markdown, format_probability
from ..runtime.paths import resolve_model_dir
from ..runtime.resources import get_predictor, model_meta
from .adapt_words import changes_sentence, drift_sentence, expectation_sentence, fitted_sentence, summary_lines, \
    threshold_sentence
from .site_page import in_use, use_in_session

if TYPE_CHECKING:
    from ...adaptation.expected import ValidationExpectation
    from ...calibration.site import SiteProfile
    from ..reading.cases import CaseResult
    from ..reading.scoring import DriftVerdict
    from ..settings.state import Settings

__all__ = ["AdaptOutcome", "PageAdaptation", "LAST", "PAGE", "min_films", "method_in_words", "adapt_files",
           "open_on_page", "opened_case", "adapted_settings", "adapt_batch", "adapt_and_use", "what_changed",
           "expectation", "show_outcome", "show_last", "offer", "summary_lines"]

LAST = "site_adapted_last"  # session key: the last adaptation's outcome, shown while its profile is in use
PAGE, _OPENED = "adapt_page_outcome", "adapt_page_opened"  # the page's adaptation, and the case opened from it


@dataclass
class AdaptOutcome:
    profile: SiteProfile | None
    used: int = 0
    not_used: int = 0
    error: str | None = None
    model: str = ""
    before: dict[str, float] = field(default_factory=dict)  # digest -> the source model's probability
    source_thresholds: dict[str, float] = field(default_factory=dict)  # the model's own named thresholds
    expected: ValidationExpectation | None = None  # the validation study's figures for the method, read once


def min_films() -> int:
    from ...adaptation.method import MIN_FILMS
    return MIN_FILMS


def _ships_threshold_only() -> bool:
    """The method that ships moves the threshold only (`score_mixture.DEFAULT_MIXTURE` is set)."""
    from ...adaptation.score_mixture import DEFAULT_MIXTURE
    return DEFAULT_MIXTURE is not None


def method_in_words() -> str:
    """What adapting does with the method that ships, for the page's introduction."""
    if _ships_threshold_only():
        return ("the model finds where the call should sit at your site, from where your films' own two groups of "
                "scores separate, and estimates your pneumonia prevalence; the network itself is not changed")
    return "the model re-estimates its normalisation on them and estimates your pneumonia prevalence"


def adapt_batch(model: str, results: list[CaseResult], name: str) -> AdaptOutcome:
    """The adapted profile of a batch scored by the model as shipped (films the gate withheld,
    or unread, are not used), with the batch's probabilities kept to say later what changed."""
    from ...calibration.site import SiteProfileError
    from ...inference.site_adaptation import adapt_predictions
    try:
        with heavy_work():
            site = adapt_predictions(get_predictor(model), [r.prediction for r in results], name=name or "my site")
    except (SiteProfileError, ServerBusy) as exc:
        return AdaptOutcome(None, error=str(exc))
    identity.audit("profile_made", model=site.profile.model, site_sha256=site.profile.files_sha256, count=site.used)
    before = {r.digest: float(r.probability) for r in results if r.ok}
    return AdaptOutcome(site.profile, site.used, len(site.withheld), model=model, before=before,
                        source_thresholds=dict(model_meta(model).thresholds), expected=expectation(site.profile, model))


@dataclass
class PageAdaptation:
    """The page's adaptation: the outcome, the batch scored under its profile, and the drift
    alarm on the batch before and after (its verdicts, and whether each fired)."""
    outcome: AdaptOutcome
    after: list = field(default_factory=list)
    verdicts: tuple = ()
    shifted: tuple[bool | None, bool | None] = (None, None)


def adapt_files(model: str, files: list[tuple[str, bytes]], name: str,
                progress: Callable[[float, str], None]) -> PageAdaptation:
    """Scores the films (the slow part, about 0.7 s a film on the CPU: `progress` hears of each),
    adapts on them, scores them under the profile and runs the drift alarm before and after."""
    from ..reading import scoring
    n = len(files)
    rescore = 0.9 if _ships_threshold_only() else 0.45  # where the bar stands once the films are read
    before = []
    for i, (fname, data) in enumerate(files):
        progress(rescore * i / n, f"Reading film {i + 1} of {n}…")
        before.append(scoring.score_file(model, data, fname))
    progress(rescore, "Adapting to the site…")
    outcome = adapt_batch(model, before, name)
    if outcome.profile is None:
        return PageAdaptation(outcome)
    after = []
    for i, (fname, data) in enumerate(files):  # a threshold-only profile re-uses each film's cached score
        progress(rescore + (0.95 - rescore) * i / n, f"Scoring film {i + 1} of {n} on the adapted profile…")
        after.append(scoring.score_file(model, data, fname, outcome.profile))
    progress(0.97, "Running the drift alarm before and after…")
    verdicts = (scoring.batch_drift(model, before, None), scoring.batch_drift(model, after, outcome.profile))
    st.session_state.pop(_OPENED, None)
    return PageAdaptation(outcome, after, verdicts, tuple(v.shifted if v is not None else None for v in verdicts))


def open_on_page(index: int) -> None:
    st.session_state[_OPENED] = index


def opened_case(stored: PageAdaptation) -> CaseResult | None:
    """The case opened from the page's list of changed calls (as scored under the profile)."""
    i = st.session_state.get(_OPENED)
    return stored.after[i] if isinstance(i, int) and 0 <= i < len(stored.after) else None


def adapted_settings(settings: Settings, profile: SiteProfile) -> Settings:
    """The sidebar's settings with the adapted profile at its default operating point: how a
    case opened from the list is shown before the profile is put in use."""
    from dataclasses import replace
    preset = profile.default_threshold
    return replace(settings, site=profile, operating_point=preset, threshold=float(profile.thresholds[preset]),
                   calibration="adapted:" + profile.name)


def adapt_and_use(model: str, results: list[CaseResult], name: str) -> None:
    """A button's callback: adapt, hand the profile to the sidebar, and keep the outcome for
    the runs that follow (which re-score the batch on the adapted profile and re-run the
    drift alarm, above the offer)."""
    with st.spinner(f"Adapting to the site on {len(results)} films…"):
        outcome = adapt_batch(model, results, name)
    st.session_state[LAST] = outcome
    if outcome.profile is not None:
        use_in_session(outcome.profile)


def what_changed(outcome: AdaptOutcome, after: Sequence[CaseResult]) -> CallChanges:
    """The films of `after` (the batch scored under the outcome's profile) whose call at the
    profile's default operating point differs from the model's as shipped. Indices are
    positions in `after`, so an entry opens that case."""
    preset = outcome.profile.default_threshold
    return changed_calls([r.name for r in after], [outcome.before.get(r.digest) for r in after],
                         [r.probability if r.ok else None for r in after],
                         threshold_before=outcome.source_thresholds[preset],
                         threshold_after=outcome.profile.thresholds[preset], preset=preset)


def expectation(profile: SiteProfile, model: str) -> ValidationExpectation | None:
    from ...adaptation.expected import validation_expectation
    return validation_expectation(resolve_model_dir(model), (profile.adaptation or {}).get("method", ""))



# --- drawing ---

def _open_buttons(changes: CallChanges, open_case: Callable[[int], None], key: str, opens: str) -> None:
    if not changes.changed:
        return
    st.caption(f"Each film below opens its case {opens}. P before: the model's own probability (calibrated on "
               "validation data); after: this site's.")
    box = st.container(height=320) if len(changes.changed) > 8 else st.container()
    for c in changes.changed:
        box.button(f"{escape_markdown(c.file)}: {c.before} → {c.after} (P {format_probability(c.probability_before)} "
                   f"→ {format_probability(c.probability_after)})", key=f"{key}_{c.index}", on_click=open_case,
                   args=(c.index,), type="tertiary")


def show_outcome(outcome: AdaptOutcome, after: Sequence[CaseResult], shifted_before: bool | None,
                 shifted_after: bool | None, open_case: Callable[[int], None], where: str, key: str, opens: str,
                 verdicts: Sequence[tuple[str, DriftVerdict | None]] = ()) -> None:
    """What changed, the new threshold, what to expect, and the drift alarm on the adapted model
    (`verdicts`, (title, verdict) pairs, are drawn in that section, just above its sentence)."""
    p = outcome.profile
    st.markdown("**What changed**")
    changes = what_changed(outcome, after)
    st.markdown(escape_markdown(changes_sentence(changes)))
    _open_buttons(changes, open_case, key, opens)
    st.markdown("**Where the call sits now**")
    st.markdown(escape_markdown(threshold_sentence(p, outcome.source_thresholds)))
    st.markdown("**What to expect for patients**")
    st.markdown(escape_markdown(expectation_sentence(p, outcome.expected)))
    fitted = fitted_sentence(p)
    if fitted:
        st.caption(escape_markdown(fitted))
    st.markdown("**The drift alarm, before and after**")
    for title, verdict in verdicts:
        if verdict is not None:
            verdict.show(f"{title}: ")
    (st.warning if shifted_after else st.info)(escape_markdown(drift_sentence(p, shifted_before, shifted_after, where)))


def _open_in_reading_room(index: int) -> None:
    """The reading room's own selection (`case_view.CASE`, set in a callback, so before the case
    viewer is drawn wherever the page puts it)."""
    from ..reading.case_view import CASE
    st.session_state[CASE] = index


def show_last(results: Sequence[CaseResult] = (), shifted: bool | None = None) -> None:
    """On Diagnose, while the adapted profile is in use: the outcome of adapting on this batch
    (`results`: the batch as now scored, under the profile; `shifted`: the alarm above, re-run)."""
    outcome = st.session_state.get(LAST)
    if outcome is None:
        return
    if outcome.error:
        st.error(escape_markdown(outcome.error))
        st.session_state.pop(LAST, None)
        return
    if not in_use(outcome.profile):
        return
    with st.container(border=True):
        st.success(escape_markdown(f"Adapted on {outcome.used} films ({outcome.not_used} not used) and in use in this "
                                   "session: the table and the cases on this page are the adapted profile's."))
        show_outcome(outcome, results, True, shifted, _open_in_reading_room, "above", "adapt_open",
                     "in the case viewer on this page")
        with st.expander("The adapted profile"):
            st.text("\n".join(summary_lines(outcome.profile)))


def offer(model: str, results: list[CaseResult], site: SiteProfile | None, shifted: bool | None) -> None:
    """Under a drift alarm that fired, and no adapted profile in use: the button, or why not."""
    show_last(results, shifted)
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
              help="Finds, from these films alone, where the call should sit at this site and estimates its "
                   "prevalence, without labels; the probabilities and calls are then the adapted profile's.")
