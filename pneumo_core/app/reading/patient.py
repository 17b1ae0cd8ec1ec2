"""Whose film this is, on screen: the case's title and, for a DICOM film, the patient and study
fields its header gives (`io.identity.FilmIdentity`), as a PACS viewer shows them, so the reader
can confirm the patient before reading the film. Plain text (`st.text`): a header's value is
never read as markdown or HTML. Shown, never logged nor audited; printed in the PDF and the CSV
only when the reader ticks `identity_choice` (off by default, as file names are)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from .cases import CaseResult, case_title

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

__all__ = ["IDENTITY_CHOICE", "identity_choice", "identity_chosen", "identity_lines", "show_header"]

IDENTITY_CHOICE = "report_patient_identity"
NO_HEADER = "No patient details: not a DICOM film (a picture file carries none). Confirm the patient another way."


def identity_choice() -> bool:
    """The reader's choice to print the header's patient fields in the PDF and the CSV."""
    return st.checkbox("Print patient details (name, ID, sex, age, study date) in the PDF and the CSV", value=False,
                       key=IDENTITY_CHOICE, help="Off: they are shown on screen only. Read from each DICOM's header.")


def identity_chosen() -> bool:
    """`identity_choice`'s value, read without drawing the checkbox (another page: off)."""
    return bool(st.session_state.get(IDENTITY_CHOICE, False))


def identity_lines(case: CaseResult) -> list[str]:
    """The panel's lines: the patient, then the study ("" fields left out)."""
    if not case.identity:
        return []
    rows = dict(case.identity.rows())
    who = [rows.get("Patient", ""), *(f"{k} {rows[k]}" for k in ("Patient ID", "Sex", "Age") if k in rows)]
    study = [f"{k} {rows[k]}" for k in ("Study date", "Accession", "View") if k in rows]
    return [" · ".join(p for p in part if p) for part in (who, study) if any(part)]


def show_header(case: CaseResult, where: DeltaGenerator | None = None) -> None:
    """The case's title, then who and which study it is (or that the file says nothing of it),
    in `where` (a column; the page itself when None)."""
    where = where or st.container()
    where.text(case_title(case))
    lines = identity_lines(case)
    if lines:
        box = where.container(border=True, key=f"patient_{case.digest[:12]}")
        for line in lines:
            box.text(line)
    elif case.source_format not in (None, "DICOM"):
        where.caption(NO_HEADER)
