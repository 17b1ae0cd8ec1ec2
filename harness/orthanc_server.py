"""A real Orthanc with its DICOMweb plugin on a loopback port, and DICOM files made from the
shipped test images: what the PACS tests and `benchmarks/pacs_throughput.py` run against.

Debian's `orthanc` and `orthanc-dicomweb` packages (`make orthanc` installs them).
"""
from __future__ import annotations

import io
import json
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import requests
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid

ORTHANC = next((p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if Path(p).is_file()), "Orthanc")
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
USER, PASSWORD = "scorer", "s3cret-Pa55word"
CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    """A running server: `url` is its DICOMweb root (no credentials in it)."""
    process: subprocess.Popen
    port: int
    folder: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/dicom-web"

    @property
    def auth(self) -> tuple[str, str]:
        return USER, PASSWORD

    def upload(self, data: bytes) -> dict:
        r = requests.post(f"{self.base}/instances", data=data, auth=self.auth, timeout=30)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_orthanc(folder: Path, port: int | None = None, wait_s: float = 60.0) -> Orthanc:
    """Starts Orthanc with a storage folder under `folder`, HTTP basic auth, loopback only and
    the DICOMweb plugin, and waits until `/system` answers."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = {"Name": "pneumo-test", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
              "HttpPort": port, "DicomServerEnabled": False, "RemoteAccessAllowed": False,
              "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD}, "Plugins": [PLUGIN],
              "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "HttpCompressionEnabled": False}
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = open(folder / "orthanc.log", "wb")
    proc = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT,
                            cwd=folder)
    server = Orthanc(proc, port, folder)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Orthanc exited ({proc.returncode}); see {folder / 'orthanc.log'}")
        try:
            if requests.get(f"{server.base}/system", auth=server.auth, timeout=2).ok:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"Orthanc did not answer within {wait_s} s; see {folder / 'orthanc.log'}")


@dataclass(frozen=True)
class Study:
    uid: str
    accession: str
    date: str  # YYYYMMDD
    modality: str = "CR"
    patient_name: str = "DOE^JANE"
    patient_id: str = "PAT-0001"


def new_study(accession: str, day: date, modality: str = "CR", patient_name: str = "DOE^JANE",
              patient_id: str = "PAT-0001") -> Study:
    return Study(generate_uid(), accession, day.strftime("%Y%m%d"), modality, patient_name, patient_id)


def dicom_from_image(image: Path, study: Study, series_uid: str, number: int, photometric: str = "MONOCHROME2",
                     compressed: bool = False, body_part: str = "CHEST", view: str = "PA",
                     truncate_pixels: bool = False) -> bytes:
    """A CR/DX DICOM file of a test JPEG: 8-bit MONOCHROME2, 12-bit MONOCHROME1 (stored inverted,
    as such films are), or the JPEG itself encapsulated (JPEG Baseline transfer syntax)."""
    gray = np.asarray(Image.open(image).convert("L"))
    ds = pydicom.Dataset()
    ds.SOPClassUID = CR_STORAGE if study.modality == "CR" else "1.2.840.10008.5.1.4.1.1.1.1"  # DX for presentation
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study.uid, series_uid
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (study.patient_name, study.patient_id,
                                                                        "20200101", "F")
    ds.AccessionNumber, ds.StudyDate, ds.StudyTime, ds.StudyID = study.accession, study.date, "083000", "1"
    ds.ReferringPhysicianName = ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = study.modality, 1, number
    ds.BodyPartExamined, ds.ViewPosition = body_part, view
    ds.Rows, ds.Columns = gray.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, photometric, 0
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    if compressed:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        jpeg = io.BytesIO()
        Image.fromarray(gray).save(jpeg, format="JPEG", quality=92)
        ds.PixelData = encapsulate([jpeg.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        meta.TransferSyntaxUID = JPEGBaseline8Bit
    elif photometric == "MONOCHROME1":
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelData = ((255 - gray.astype(np.uint16)) * 16).astype("<u2").tobytes()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = gray.astype(np.uint8).tobytes()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if truncate_pixels:
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // 4]
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()

