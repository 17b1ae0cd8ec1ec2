"""Tests for pneumo_core.app.reading.patient and the case names (`cases.case_titles`): whose film
this is, on screen as plain text, and nowhere else (CSV, PDF, audit trail, log) unless the reader
ticks the box. Driven through the Diagnose page with AppTest; the bytes each door writes are read.

Each test name says the failure it guards against."""
from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import matplotlib
import pytest
from pydicom.uid import generate_uid
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from conftest import run_app
from harness.orthanc_server import dicom_from_image, new_study
from pneumo_core.app.reading import cases, patient, scoring
from pneumo_core.app.runtime import paths, resources
from pneumo_core.app.settings import sidebar
from pneumo_core.inference.prediction import Prediction
from pneumo_core.io.identity import FilmIdentity

FILM = next(p for p in paths.example_files() if p.name.startswith("person"))
PLAIN = next(p for p in paths.example_files() if p.name.startswith("IM-"))
HOSTILE = "**bold**^<script>alert(1)</script>"
SHOWN_NAME = "**bold**, <script>alert(1)</script>"  # family, given: as a PACS viewer prints "DOE^JANE"
SECRETS = (b"PAT-7741", b"alert(1)", b"bold")


def _dicom() -> bytes:
    return dicom_from_image(FILM, new_study("A123", date(2024, 1, 1), patient_name=HOSTILE, patient_id="PAT-7741"),
                            generate_uid(), 1)


@pytest.fixture()
def downloads(monkeypatch) -> list[tuple[str, bytes]]:
    """(mimetype, bytes) of every download the page registers, as the browser would receive them."""
    seen: list[tuple[str, bytes]] = []
    real = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes):
            seen.append((mimetype, path_or_data))
        return real(self, path_or_data, mimetype, kind, filename)
    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return seen


def _csv(downloads) -> bytes:
    return [data for mime, data in downloads if mime.startswith("text/csv")][-1]


@pytest.fixture(scope="module")
def page():
    at = run_app()
    at.file_uploader[0].set_value([("scan.dcm", _dicom(), "application/dicom"),
                                   (PLAIN.name, PLAIN.read_bytes(), "image/jpeg")]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_dicom_case_shows_who_and_which_study_as_plain_text(page):
    """A header's name with markdown and HTML in it is printed literally, never rendered."""
    texts = [t.value for t in page.text]
    assert "A123 · PA · 2024-01-01" in texts
    assert f"{SHOWN_NAME} · Patient ID PAT-7741 · Sex F · Age 4 y (born 2020-01-01)" in texts
    assert "Study date 2024-01-01 · Accession A123 · View PA" in texts
    rendered = [e.value for kind in ("markdown", "caption", "warning", "info", "error", "success") for e in getattr(page, kind)]
    assert not any("bold" in v or "script" in v or "PAT-7741" in v for v in rendered)


def test_cases_are_named_by_accession_view_and_date_or_file_name_in_the_list_and_the_table(page):
    """They read "sha256 37a4108af19a" and "instance 1.2.826..." before."""
    assert page.selectbox(key="case_list").options == ["1 of 2: A123 · PA · 2024-01-01", f"2 of 2: {PLAIN.name}"]
    table = next(df.value for df in page.dataframe if "label" in df.value.columns)
    assert list(table["name"]) == ["A123 · PA · 2024-01-01", PLAIN.name]
    assert not any(c in table.columns for c in cases.IDENTITY_COLUMNS)  # no patient field sent with the table


def test_a_plain_picture_says_it_carries_no_patient_details(page):
    page.button(key="case_next").click().run()
    assert PLAIN.name in [t.value for t in page.text] and patient.NO_HEADER in [c.value for c in page.caption]
    page.button(key="case_prev").click().run()


def test_the_patient_stays_out_of_the_csv_the_audit_trail_and_the_log_unless_the_box_is_ticked(
        downloads, audit_trail_in_a_temporary_file, caplog):
    caplog.set_level(logging.DEBUG)
    at = run_app()
    at.file_uploader[0].set_value([("scan.dcm", _dicom(), "application/dicom")]).run()
    assert not at.exception and at.checkbox(key=patient.IDENTITY_CHOICE).value is False
    plain = _csv(downloads)
    trail = Path(audit_trail_in_a_temporary_file).read_bytes()
    assert trail and plain.startswith(b"case,")  # each door wrote something
    for secret in SECRETS + (b"A123",):
        assert secret not in plain and secret not in trail and secret.decode() not in caplog.text
    at.checkbox(key=patient.IDENTITY_CHOICE).check().run()
    chosen = _csv(downloads)
    assert b"PAT-7741" in chosen and b"<script>alert(1)</script>" in chosen and b"2024-01-01" in chosen
    assert b"PAT-7741" not in Path(audit_trail_in_a_temporary_file).read_bytes()  # ticking prints; never audits


def test_the_pdf_prints_the_patient_only_when_the_reader_ticks_the_box(monkeypatch):
    """Rendered for real with the PDF core fonts and no compression, so the bytes hold the text."""
    r = scoring.score_file(paths.DEFAULT_MODEL, _dicom(), "scan.dcm")
    assert r.identity
    hm = scoring.heatmap_for(paths.DEFAULT_MODEL, r, "gradcam", cases.label_at(r.probability, 0.5))
    s = sidebar.Settings(paths.DEFAULT_MODEL, "balanced", resources.model_meta(paths.DEFAULT_MODEL)
                         .thresholds["balanced"], "gradcam", 0.5)

    def pdf() -> bytes:
        with matplotlib.rc_context({"pdf.compression": 0, "pdf.use14corefonts": True}):
            return scoring.case_report(r, s, hm)()
    default = pdf()
    assert b"Pneumonia" in default or b"P(pneumonia)" in default  # the method reads text: a control
    assert not any(secret in default for secret in SECRETS)
    monkeypatch.setattr(scoring, "identity_chosen", lambda: True)
    chosen = pdf()
    assert b"PAT-7741" in chosen and b"2024-01-01" in chosen


def test_a_pacs_case_is_named_from_its_header_or_its_instance_never_the_whole_dicomweb_path():
    """The PACS page titled a case "dicomweb:<study>/<series>/<instance>" and its table said "1"."""
    ref = "dicomweb:1.2.3/1.2.3.4/1.2.826.0.1.3680043.8.498.12345678901"
    with_header = cases.CaseResult.scored(Prediction(ref, 0.2, None, 0.5, "m"), "d1",
                                          identity=FilmIdentity(accession="ACC-1001", view="PA", study_date="2024-01-05"))
    bare = cases.CaseResult.unscored(ref, "d2", "m", not_assessed="not assessed: view is LL")
    twin = cases.CaseResult.scored(Prediction(ref + "9", 0.3, None, 0.5, "m"), "d3", identity=with_header.identity)
    assert cases.case_titles([with_header, bare, twin]) == ["ACC-1001 · PA · 2024-01-05 (1)", "instance …12345678901",
                                                            "ACC-1001 · PA · 2024-01-05 (2)"]
    rows = cases.result_rows([with_header, bare], 0.5, "balanced")
    assert [row["name"] for row in rows] == ["ACC-1001 · PA · 2024-01-05", "instance …12345678901"]
