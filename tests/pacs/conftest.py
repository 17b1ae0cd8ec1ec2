"""A real Orthanc (DICOMweb plugin, HTTP basic auth, loopback, temporary storage) for the
session, loaded with DICOM files made from the shipped test images; stopped at the end."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from harness.orthanc_server import PASSWORD, USER, Orthanc, Study, dicom_from_image, new_study, start_orthanc


@dataclass
class Loaded:
    """What the server holds: study A (CR, 2024-01-05: MONOCHROME2, MONOCHROME1, JPEG-compressed,
    a hand), study B (DX, 2024-03-20: a good film, one whose pixel data is cut short), studies C,
    D and E (CR, 2024-06-01, 2024-07-01, 2024-08-01: one film each, for storing reports from the
    library, the page and the command line, so each counts only its own)."""
    a: Study
    b: Study
    c: Study
    d: Study
    e: Study
    sop: dict[str, str]  # kind -> SOPInstanceUID
    source: dict[str, Path]  # kind -> the test image it was made from


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory) -> Orthanc:
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def loaded(orthanc, test_images) -> Loaded:
    normal, pneumonia = test_images["NORMAL"], test_images["PNEUMONIA"]
    a = new_study("ACC-1001", date(2024, 1, 5), "CR")
    b = new_study("ACC-2002", date(2024, 3, 20), "DX", patient_name="ROE^RICHARD", patient_id="PAT-0002")
    c = new_study("ACC-3003", date(2024, 6, 1), "CR", patient_name="POE^EDGAR", patient_id="PAT-0003")
    d = new_study("ACC-4004", date(2024, 7, 1), "CR", patient_name="DOE^JOHN", patient_id="PAT-0004")
    e = new_study("ACC-5005", date(2024, 8, 1), "CR", patient_name="DOE^JIM", patient_id="PAT-0005")
    sa, sb, sc, sd, se = (generate_uid() for _ in range(5))
    plan = {  # kind: (study, series, number, image, options)
        "mono2": (a, sa, 1, normal[0], {}),
        "mono1": (a, sa, 2, pneumonia[0], {"photometric": "MONOCHROME1"}),
        "jpeg": (a, sa, 3, pneumonia[1], {"compressed": True}),
        "hand": (a, sa, 4, normal[1], {"body_part": "HAND"}),
        "b_good": (b, sb, 1, normal[2], {}),
        "b_broken": (b, sb, 2, normal[3], {"truncate_pixels": True}),
        "c_film": (c, sc, 1, pneumonia[2], {}),
        "d_film": (d, sd, 1, pneumonia[3], {}),
        "e_film": (e, se, 1, normal[4], {}),
    }
    sop, source = {}, {}
    for kind, (study, series, number, image, options) in plan.items():
        data = dicom_from_image(image, study, series, number, **options)
        orthanc.upload(data)
        sop[kind] = str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)
        source[kind] = image
    return Loaded(a, b, c, d, e, sop, source)


@pytest.fixture()
def client(orthanc):
    from pneumo_core.pacs.client import PacsClient
    from pneumo_core.pacs.config import auth_from
    with PacsClient(orthanc.url, auth_from(user=USER, password=PASSWORD), allow_http=True) as c:  # a test server
        yield c


@pytest.fixture()
def dicomweb_env(monkeypatch):
    """The CLI's credentials, from the environment as in production; plain http allowed for the test server."""
    for k in ("PNEUMO_DICOMWEB_TOKEN", "PNEUMO_DICOMWEB_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PNEUMO_DICOMWEB_USER", USER)
    monkeypatch.setenv("PNEUMO_DICOMWEB_PASSWORD", PASSWORD)
    monkeypatch.setenv("PNEUMO_DICOMWEB_ALLOW_HTTP", "1")


class RequestSpy:
    """Every request a `requests.Session` sends, as (method, url): what proves a refusal came
    before anything reached the server."""

    def __init__(self, session) -> None:
        self.sent: list[tuple[str, str]] = []
        self._send = session.send

        def send(request, **kwargs):
            self.sent.append((request.method, request.url))
            return self._send(request, **kwargs)
        session.send = send


@pytest.fixture()
def spy(client) -> RequestSpy:
    """The requests the test's `client` sends."""
    return RequestSpy(client.session)


@pytest.fixture()
def audit_records():
    """The audit trail's records written during the test."""
    from pneumo_core.audit import default_log
    before = len(list(default_log().records()))
    return lambda: list(default_log().records())[before:]


@pytest.fixture(scope="session")
def stopped_url(tmp_path_factory) -> str:
    """The DICOMweb URL of an Orthanc that was started, answered, and was stopped."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc_stopped"))
    server.stop()
    return server.url
