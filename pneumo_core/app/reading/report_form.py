"""The fields a reader types into a case report before downloading it: accession number,
impression, and a name for sign-off. Kept per case in session state (keyed on the file's
content hash), so stepping through a batch and back keeps what was typed.

Never pre-filled from DICOM tags: the app reads no identifying tag, and an accession
number in a report must be one the reader typed and checked against the film.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from ...io.case_report import FIELD_LIMITS
from ...reporting.case import ReaderFields as ReportFields

__all__ = ["ReportFields", "field_key", "report_fields", "typed_fields", "file_names_choice", "file_names_chosen",
           "typed_accessions"]

_FILE_NAMES = "report_file_names"




def field_key(digest: str, name: str) -> str:
    """The session-state key of one case's field (`name`: a key of `FIELD_LIMITS`)."""
    return f"report_{name}_{digest[:16]}"


def _kept(key: str) -> str:
    # Streamlit drops a widget's state on a run that does not draw it (another case shown),
    # so each field is copied to a plain key on change and restored from it when drawn again.
    return key + "_kept"


def _keep(key: str) -> None:
    st.session_state[_kept(key)] = st.session_state[key]


def _field(widget: Callable[..., str], label: str, digest: str, name: str, **kw) -> str:
    """`widget` (a bound `text_input` / `text_area`) for one field, restored from its kept copy."""
    key = field_key(digest, name)
    ss = st.session_state
    if key not in ss and _kept(key) in ss:
        ss[key] = ss[_kept(key)]
    return widget(label, key=key, max_chars=FIELD_LIMITS[name], on_change=_keep, args=(key,), **kw)


def report_fields(digest: str) -> ReportFields:
    """Draws the three inputs for one case and returns what is typed in them."""
    st.caption("For the PDF report only; typed here, never read from the file's tags.")
    left, right = st.columns(2)
    accession = _field(left.text_input, "Accession number", digest, "accession_number")
    reader = _field(right.text_input, "Name for sign-off", digest, "reader",
                    help="Printed as 'Reviewed and signed by' on the report.")
    impression = _field(st.text_area, "Reader's impression", digest, "impression", height=90)
    return ReportFields(accession.strip(), impression.strip(), reader.strip())


def typed_fields(digest: str) -> ReportFields:
    """What was typed for one case, read without drawing the inputs (another page, or a
    run that shows another case)."""
    ss = st.session_state

    def value(name: str) -> str:
        key = field_key(digest, name)
        return str(ss.get(key, ss.get(_kept(key), ""))).strip()
    return ReportFields(value("accession_number"), value("impression"), value("reader"))


def file_names_choice() -> bool:
    """The reader's choice to print file names in the PDF and the CSV; off by default,
    because an upload's name often carries the patient's."""
    return st.checkbox("Print file names in the PDF and the CSV", value=False, key=_FILE_NAMES,
                       help="Off: a case is named by the accession number typed, else its DICOM instance UID, "
                            "else a hash of the file. File names often carry the patient's name.")


def file_names_chosen() -> bool:
    """`file_names_choice`'s value, read without drawing the checkbox."""
    return bool(st.session_state.get(_FILE_NAMES, False))


def typed_accessions(digests: list[str]) -> list[str]:
    """The accession number typed for each case ("" where none), in order."""
    return [typed_fields(d).accession_number for d in digests]
