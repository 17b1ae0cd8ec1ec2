"""One case at a time: stepping through a batch (previous/next, a case list, a row of the
results table), and the case itself (the viewer, the numbers, the heatmap's check, the
report fields and the PDF). A batch of fifty films is read like a worklist, not scrolled.

Session-state keys: `case` (the index of the case shown, the page's own: never a widget's
value), `case_list` (the case list, set from `case` before it is drawn), `case_shown_digest`
(the film shown, so the reader stays on it when films are added or removed), `results_table_<n>` (the
table; `n` changes after each row picked, so picking the same row again still opens it),
`viewer_*` (the display choices, shared by every case of the batch).
"""
from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import TYPE_CHECKING, Any

import streamlit as st

from ...io.budget import ServerBusy
from ..access import identity
from ..runtime.formatting import escape_markdown, format_probability, safe_filename
from ..settings.operating_point import NO_ESTIMATE
from . import patient, viewer
from .shortcut import shortcut_check
from .cases import BORDERLINE, CaseResult, case_details, case_id, case_titles, distinct_warnings, label_at
from .report_form import file_names_chosen, report_fields
from .scoring import Heatmap, case_report, heatmap_for, region_check, split_warnings

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

    from ...evaluation.operating_point import OperatingPoint
    from ..settings.state import Settings

__all__ = ["CASE", "CASE_LIST", "FILM_HEIGHT", "table_key", "open_row", "case_stepper", "show_batch", "warning_text",
           "show_case", "show_gallery_case"]

CASE, CASE_LIST, _SHOWN, _TABLE_GEN = "case", "case_list", "case_shown_digest", "results_table_gen"
BORDERLINE_NOTE = "Borderline: within {b} of the threshold; the call could go either way."
FILM_HEIGHT = 480  # px: under the Diagnose page's header, the whole film fits a 1440x900 screen
# film : side column. A film drawn 480 px tall is about as wide, so the side column takes the rest:
# wider lines there keep the call, P and both checks beside the film at 1440x900
COLUMNS = (1.6, 1)
HEATMAP_FAILED = "Heatmap could not be computed for this film: {reason}"
_log = logging.getLogger(__name__)


def table_key() -> str:
    """The results table's current key (see the module docstring)."""
    return f"results_table_{st.session_state.get(_TABLE_GEN, 0)}"


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def open_row(event: Any) -> None:
    """A row picked in the results table (its selection state, `on_select="rerun"`) becomes the
    case shown. The table is drawn below the case, so `show_batch` reads its selection from
    session state before the case list is drawn, and the list follows; the table is then
    drawn afresh (a new key), so picking the same row again after stepping away still opens it."""
    rows = list(_field(_field(event, "selection"), "rows") or [])
    if rows:
        ss = st.session_state
        ss[CASE] = int(rows[0])
        ss[_TABLE_GEN] = ss.get(_TABLE_GEN, 0) + 1


def _current(n: int) -> int:
    """The index of the case shown, always an int within the batch: whatever a browser sends
    back (a stale list label after the batch changed, an index past its end) falls back to a
    case of this batch instead of raising, because an exception in a callback stops the run
    before the uploader is drawn, and Streamlit then drops the uploaded films."""
    value = st.session_state.get(CASE, 0)
    return min(max(value, 0), n - 1) if isinstance(value, int) and not isinstance(value, bool) and n > 0 else 0


def _step(delta: int, n: int) -> None:
    st.session_state[CASE] = min(max(_current(n) + delta, 0), max(n - 1, 0))


def _picked(n: int) -> None:
    """The case list changed: only an index of this batch is taken (see `_current`)."""
    value = st.session_state.get(CASE_LIST)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
        st.session_state[CASE] = value


def case_stepper(names: list[str], digests: list[str] | None = None) -> int:
    """Previous / a case list / next; returns the index of the case to show. `CASE` is the
    page's own state, not a widget's: the list (`CASE_LIST`) is set from it before it is
    drawn, so a label the browser kept from an older batch can never become the case. With
    `digests`, a film added or removed before the one shown keeps the reader on that film."""
    n = len(names)
    ss = st.session_state
    i = _current(n)
    last_index, last_digest = ss.get(_SHOWN) or (None, None)
    if digests and ss.get(CASE) == last_index and last_digest in digests and digests[i] != last_digest:
        i = digests.index(last_digest)  # not stepped, but the batch changed around the film shown
    ss[CASE] = ss[CASE_LIST] = i
    ss[_SHOWN] = (i, digests[i] if digests and n else None)
    prev_col, next_col = st.columns(2)
    prev_col.button("← Previous", key="case_prev", on_click=_step, args=(-1, n), disabled=i == 0,
                    width="stretch", shortcut=viewer.KEYS["previous"])
    next_col.button("Next →", key="case_next", on_click=_step, args=(1, n), disabled=i >= n - 1,
                    width="stretch", shortcut=viewer.KEYS["next"])
    st.selectbox("Case", range(n), key=CASE_LIST, on_change=_picked, args=(n,), label_visibility="collapsed",
                 format_func=lambda k: f"{k + 1} of {n}: {names[k]}" if isinstance(k, int) and 0 <= k < n
                 else str(k))
    return i


def show_batch(results: list[CaseResult], settings: Settings, expected: OperatingPoint | None) -> None:
    """The batch read one case at a time: the film on the left as tall as a 900-pixel-high
    screen allows under the page's header, and beside it the stepper, the case's call and P,
    the window/level and the check, so film, call and P show without scrolling."""
    open_row(st.session_state.get(table_key()))  # the table below: its pick from the last run opens its case now
    film_col, side_col = st.columns(COLUMNS, gap="medium")
    with side_col:
        i = case_stepper(case_titles(results), [case.digest for case in results])
    show_case(results[i], settings, expected, (film_col, side_col))


def _audit_opened(case: CaseResult) -> None:
    identity.audit_once("open_case", case.digest, sha256=case.digest, model=case.model or "unknown")


def warning_text(warning: str) -> str:
    """A warning as a sentence under its own heading: "out of distribution: unlike ..." ->
    "**Out of distribution:** unlike ...", so the heading is not said twice."""
    head, sep, rest = warning.partition(": ")
    if not sep:
        return escape_markdown(warning[:1].upper() + warning[1:])
    return f"**{escape_markdown(head[:1].upper() + head[1:])}:** {escape_markdown(rest)}"


def _numbers(case: CaseResult, settings: Settings, label: str, other_warnings: list[str]) -> None:
    st.metric(settings.probability_label, format_probability(case.probability))
    st.badge(f"{label} at threshold {settings.threshold:.3f}", color="orange" if label == "PNEUMONIA" else "blue")
    if abs(case.probability - settings.threshold) < BORDERLINE:
        st.caption(BORDERLINE_NOTE.format(b=BORDERLINE))
    for w in other_warnings:
        st.warning(warning_text(w))


def _operating_point(case: CaseResult, expected: OperatingPoint | None) -> None:
    """P as a bar and what the threshold means in sensitivity and specificity: under the
    checks, which are about this film, so those stay in view at 1440x900."""
    st.progress(float(case.probability))
    st.caption(f"At this threshold the model {expected.in_words()} ({escape_markdown(expected.source)})."
               if expected is not None else escape_markdown(NO_ESTIMATE))


def _checks(case: CaseResult, heatmap: Heatmap, settings: Settings) -> None:
    """The map's check (`reporting.region_check`) and its shortcut check (`reporting.shortcut_check`),
    each a warning when it flags the map: drawn right under the call, so both are in view."""
    check = region_check(heatmap, settings.site, settings.threshold)
    if check is not None:
        (st.warning if check.map_fails else st.caption)("**Check:** " + escape_markdown(check.text))
    shortcut = shortcut_check(case, heatmap, settings)
    if shortcut is not None:
        (st.warning if shortcut.flagged else st.caption)("**Shortcut check:** " + escape_markdown(shortcut.text))


def _map_notes(heatmap: Heatmap) -> None:
    """What the map shows (its caption, in the colours drawn) and its note."""
    st.caption(escape_markdown(heatmap.caption))
    st.caption(escape_markdown(heatmap.note))


def _dimmed(heatmap: Heatmap | None, settings: Settings) -> bool:
    check = region_check(heatmap, settings.site, settings.threshold) if heatmap is not None else None
    return bool(check and check.map_fails)


def _heatmap(settings: Settings, case: CaseResult, label: str) -> Heatmap | None:
    """The case's heatmap, or None with the reason in one line: while the server is at its limit
    of heavy work, or when the map fails on this film (the call and P above it stand; an
    error here would replace the page and drop the batch's uploads)."""
    try:
        return heatmap_for(settings.model, case, settings.method, label, settings.site)
    except ServerBusy as exc:
        st.warning(f"{exc} The heatmap and the report follow when you open the case again.")
    except Exception as exc:  # noqa: BLE001  the map is an aid: whatever fails in it, the case stays readable
        # no film name in the log: a patient's?
        _log.warning("heatmap failed (%s, method %s)", type(exc).__name__, settings.method)
        st.warning(escape_markdown(HEATMAP_FAILED.format(reason=str(exc) or type(exc).__name__)))
    return None


def _call_line(case: CaseResult, settings: Settings, label: str) -> str:
    """P and the call in one markdown line, for the dialogs."""
    return (f"{escape_markdown(settings.probability_label)}: **{format_probability(case.probability)}**, "
            f"called **{label}** at threshold {settings.threshold:.3f}")


def _not_assessed(case: CaseResult, settings: Settings, view_col: DeltaGenerator, num_col: DeltaGenerator) -> None:
    """A film the input gate withholds a call from: the film (when fetched) and why."""
    if case.film is None:  # withheld from its header alone: never fetched
        view_col.caption("Not fetched: the header says this is not a frontal chest film.")
    num_col.warning(warning_text(case.not_assessed))
    for w in distinct_warnings(case):
        if w != case.not_assessed:
            num_col.warning(warning_text(w))
    if case.film is not None:
        with num_col:
            display = viewer.display_controls("viewer", settings.opacity, heatmap=False, shortcuts=True)
        with view_col:
            viewer.show_film(case.film, None, display, key=f"film_{case.digest[:12]}", height=FILM_HEIGHT)
            st.caption(viewer.keys_caption(heatmap=False))
    with num_col.expander("Details"):
        st.dataframe(case_details(case), hide_index=True, width="stretch")


def show_case(case: CaseResult, settings: Settings, expected: OperatingPoint | None,
              columns: tuple[DeltaGenerator, DeltaGenerator] | None = None) -> None:
    """One scored upload: the film (in the first of `columns`) and beside it the numbers,
    the window/level, the heatmap's check and the report (in the second); two new columns
    when none are given."""
    _audit_opened(case)
    view_col, num_col = columns or st.columns(COLUMNS, gap="medium")
    patient.show_header(case, num_col)
    if case.not_assessed:  # read, but the input gate withholds the call: the film, and why
        _not_assessed(case, settings, view_col, num_col)
        return
    if not case.ok:
        num_col.error("Not scored: " + escape_markdown(case.error))
        return
    label = label_at(case.probability, settings.threshold)
    ood, other_warnings = split_warnings(case)
    with num_col:
        if ood:
            st.warning(warning_text(ood))
        _numbers(case, settings, label, other_warnings)
    with view_col, st.spinner("Computing the heatmap…"):
        heatmap = _heatmap(settings, case, label)
    heat = heatmap.heatmap if heatmap is not None else None
    drawn = dict(target_class=heatmap.target_class if heatmap is not None else label, dimmed=_dimmed(heatmap, settings))
    with num_col:
        if heatmap is not None:
            _checks(case, heatmap, settings)
        _operating_point(case, expected)
        display = viewer.display_controls("viewer", settings.opacity, heatmap=heatmap is not None, shortcuts=True)
    with view_col:
        viewer.show_film(case.film, heat, display, key=f"film_{case.digest[:12]}", height=FILM_HEIGHT, **drawn)
        if st.button("Full view", key=f"full_{case.digest[:12]}", help="The film as large as the window allows, "
                     "with its call, P and a window/level of its own."):
            viewer.seed_from("full_viewer", "viewer")
            viewer.full_view(case.film, heat, settings.opacity, case.name, _call_line(case, settings, label), **drawn)
        st.caption(viewer.keys_caption(heatmap=heatmap is not None))
    with num_col:
        if heatmap is not None:
            _map_notes(heatmap)
        with st.expander("Details"):
            st.dataframe(case_details(case), hide_index=True, width="stretch")
    if heatmap is None:
        return
    with view_col.expander("Report fields and PDF", expanded=False):
        fields = report_fields(case.digest)
        named = case.name if file_names_chosen() else case_id(case, fields.accession_number)  # a file name is often the patient's
        st.download_button("Case report (PDF)",
                           case_report(case, settings, heatmap, fields, expected),
                           file_name=safe_filename(named, "_report.pdf"), mime="application/pdf",
                           on_click="ignore", key=f"report_{case.digest[:12]}")


@st.dialog("Test case", width=1800)  # pixels; capped at the window's width
def show_gallery_case(case: CaseResult, settings: Settings) -> None:
    """A gallery thumbnail opened: the film in the viewer, and beside it its call, P, the
    heatmap's check and the window/level."""
    _audit_opened(case)
    st.text(case.name)
    if not case.ok:
        st.warning(warning_text(case.not_assessed or case.error or "not scored"))
        if case.film is not None:
            viewer.show_film(case.film, None, viewer.Display(), key="gallery_film")
        return
    label = label_at(case.probability, settings.threshold)
    heatmap = _heatmap(settings, case, label)
    if heatmap is None:
        return
    film_col, side_col = st.columns(COLUMNS, gap="medium")
    with side_col:  # the call and the check first, beside the film: in view without scrolling
        st.markdown(_call_line(case, settings, label))
        _checks(case, heatmap, settings)
        _map_notes(heatmap)
        display = viewer.display_controls("gallery_viewer", settings.opacity)
    with film_col:
        viewer.show_film(case.film, heatmap.heatmap, display, key="gallery_film", height=640,
                         target_class=heatmap.target_class,
                         dimmed=_dimmed(heatmap, settings))
