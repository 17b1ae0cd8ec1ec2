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

from .orthanc_server import PASSWORD, USER, Orthanc, Study, dicom_from_image, new_study, start_orthanc


@dataclass
class Loaded:
    """What the server holds: study A (CR, 2024-01-05: MONOCHROME2, MONOCHROME1, JPEG-compressed,
    a hand), study B (DX, 2024-03-20: a good film, one whose pixel data is cut short), study C
    (CR, 2024-06-01: one film, for storing reports)."""
    a: Study
    b: Study
    c: Study
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
    sa, sb, sc = generate_uid(), generate_uid(), generate_uid()
    plan = {  # kind: (study, series, number, image, options)
        "mono2": (a, sa, 1, normal[0], {}),
        "mono1": (a, sa, 2, pneumonia[0], {"photometric": "MONOCHROME1"}),
        "jpeg": (a, sa, 3, pneumonia[1], {"compressed": True}),
        "hand": (a, sa, 4, normal[1], {"body_part": "HAND"}),
        "b_good": (b, sb, 1, normal[2], {}),
        "b_broken": (b, sb, 2, normal[3], {"truncate_pixels": True}),
        "c_film": (c, sc, 1, pneumonia[2], {}),
    }
    sop, source = {}, {}
    for kind, (study, series, number, image, options) in plan.items():
        data = dicom_from_image(image, study, series, number, **options)
        orthanc.upload(data)
        sop[kind] = str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)
        source[kind] = image
    return Loaded(a, b, c, sop, source)


@pytest.fixture()
def client(orthanc):
    from pneumo_core.pacs.client import PacsClient
    from pneumo_core.pacs.config import auth_from
    with PacsClient(orthanc.url, auth_from(user=USER, password=PASSWORD)) as c:
        yield c


@pytest.fixture()
def dicomweb_env(monkeypatch):
    """The CLI's credentials, from the environment as in production."""
    for k in ("PNEUMO_DICOMWEB_TOKEN", "PNEUMO_DICOMWEB_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PNEUMO_DICOMWEB_USER", USER)
    monkeypatch.setenv("PNEUMO_DICOMWEB_PASSWORD", PASSWORD)


@pytest.fixture(scope="session")
def stopped_url(tmp_path_factory) -> str:
    """The DICOMweb URL of an Orthanc that was started, answered, and was stopped."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc_stopped"))
    server.stop()
    return server.url
