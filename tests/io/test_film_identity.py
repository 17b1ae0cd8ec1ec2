"""Tests for pneumo_core.io.identity: the patient fields a DICOM header gives, carried apart from
the non-identifying metadata, bounded, and never in a repr.

Each test name says the failure it guards against."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from harness.orthanc_server import dicom_from_image, new_study
from pneumo_core.io.identity import MAX_CHARS, FilmIdentity, read_identity
from pneumo_core.io.ingest import load
from pneumo_core.io.sandbox import load_untrusted

FILM = Path(__file__).resolve().parents[2] / "examples" / "person10_virus_35.jpeg"
NAME = "**bold**^<script>alert(1)</script>"


def _film(name: str = NAME, accession: str = "A123") -> bytes:
    return dicom_from_image(FILM, new_study(accession, date(2024, 1, 1), patient_name=name,
                                            patient_id="PAT-0001"), generate_uid(), 1)


@pytest.mark.parametrize("loader", [load, load_untrusted], ids=["in process", "decode worker"])
def test_the_header_identity_reaches_the_caller_apart_from_the_metadata(loader):
    """Through the decode worker's JSON reply too: the sandbox used to drop all but metadata."""
    rad = loader(_film())
    assert rad.identity is not None
    assert dict(rad.identity.rows()) == {"Patient": "**bold**, <script>alert(1)</script>", "Patient ID": "PAT-0001",
                                         "Sex": "F", "Age": "4 y (born 2020-01-01)", "Study date": "2024-01-01",
                                         "Accession": "A123", "View": "PA"}
    assert not any("PAT-0001" in v or "bold" in v for v in rad.metadata.values())  # metadata reaches the PDF


def test_a_case_is_titled_by_accession_view_and_study_date_not_a_hash():
    assert load(_film()).identity.title == "A123 · PA · 2024-01-01"
    assert FilmIdentity(patient_id="P9", study_date="2024-01-01").title == "P9 · 2024-01-01"  # no accession
    assert FilmIdentity(patient_name="X").title == ""  # nothing to title it by: the caller falls back


def test_a_repr_or_str_never_carries_the_patient():
    """A logged or printed result must not leak the name (the dataclass repr would)."""
    who = FilmIdentity(patient_name="DOE, JANE", patient_id="PAT-0001")
    assert "DOE" not in repr(who) and "PAT" not in str(who) and "DOE" not in f"{who!r} {[who]}"


def test_a_crafted_value_is_one_bounded_line_of_printable_text():
    who = FilmIdentity(patient_name="A\nB\x00\x1b[31m" + "x" * 500, accession="\u202eRTL")
    assert who.patient_name.startswith("A B") and len(who.patient_name) == MAX_CHARS
    assert "\n" not in who.patient_name and "\x1b" not in who.patient_name and "\u202e" not in who.accession


def test_the_workers_reply_is_trusted_no_further_than_its_shape():
    assert FilmIdentity.from_wire(None) is None and FilmIdentity.from_wire(["x"]) is None
    got = FilmIdentity.from_wire({"patient_id": "P1", "sex": 7, "evil": "x", "view": "Z" * 999})
    assert got.patient_id == "P1" and got.sex == "" and len(got.view) == MAX_CHARS


@pytest.mark.parametrize("birth,study,age", [
    ("2020-01-01", "2024-01-01", "4 y (born 2020-01-01)"), ("2023-06-15", "2024-01-14", "6 mo (born 2023-06-15)"),
    ("2022-01-02", "2024-01-01", "23 mo (born 2022-01-02)"), ("2025-01-01", "2024-01-01", "born 2025-01-01"),
    ("", "2024-01-01", None)])
def test_the_age_at_the_study_is_worked_out_from_the_birth_date_in_months_under_two(birth, study, age):
    assert dict(FilmIdentity(birth_date=birth, study_date=study).rows()).get("Age") == age


def test_a_header_age_string_is_read_and_a_film_without_identity_gives_none():
    class Ds(dict):
        def get(self, k, default=None):
            return super().get(k, default)
    assert read_identity(Ds(PatientAge="005Y")).age == "5 y"
    assert read_identity(Ds(PatientAge="011M")).age == "11 mo"
    assert read_identity(Ds()) is None
