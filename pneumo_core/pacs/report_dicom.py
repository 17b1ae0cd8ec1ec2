"""The case report as a DICOM Encapsulated PDF, stored beside the images it reports on.

A new series (Modality DOC) in the same study; its UIDs are given by the caller (`pacs.store`
derives them from what the report says, so the same report stored twice is one instance) or
fresh. From the study it copies only
what the Encapsulated PDF IOD requires: the Patient module's four Type 2 attributes (name, ID,
birth date, sex) and the General Study module's identifying attributes, so the report files
under the right patient and study and carries nothing more about them.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from ..io.case_report import ReportCase, render_report
from ..io.sandbox import load_untrusted

if TYPE_CHECKING:  # the app's PACS page imports this module before torch has loaded
    from ..inference.predictor import Prediction, Predictor

__all__ = ["ENCAPSULATED_PDF", "PATIENT_ATTRIBUTES", "STUDY_ATTRIBUTES", "REPORT_SERIES_NUMBER", "encapsulated_pdf",
           "report_pdf"]

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
PATIENT_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")  # Type 2
STUDY_ATTRIBUTES = ("StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
                    "AccessionNumber")  # General Study module, Type 1 and 2
REPORT_SERIES_NUMBER = 9901  # high, so viewers list the report after the acquisition's series
_DISPLAY_SIDE = 768


def encapsulated_pdf(pdf: bytes, study: pydicom.Dataset, title: str = "Pneumonia detector report (research demo)",
                     now: datetime | None = None, sop_uid: str | None = None,
                     series_uid: str | None = None) -> pydicom.Dataset:
    """A new Encapsulated PDF instance in `study` (a dataset holding at least StudyInstanceUID,
    e.g. `PacsClient.study_header`), ready for STOW-RS; fresh UIDs unless given."""
    if not pdf.startswith(b"%PDF"):
        raise ValueError("not a PDF document")
    if not study.get("StudyInstanceUID"):
        raise ValueError("the study has no StudyInstanceUID")
    now = now or datetime.now(timezone.utc)
    ds = pydicom.Dataset()
    for keyword in PATIENT_ATTRIBUTES + STUDY_ATTRIBUTES:
        setattr(ds, keyword, study.get(keyword, ""))
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = REPORT_SERIES_NUMBER
    ds.SeriesDescription = title
    ds.Manufacturer = "pneumo_core"
    ds.ConversionType = "WSD"  # SC Equipment: made on a workstation
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "NO"  # the report names UIDs, not the patient
    ds.DocumentTitle = title
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")  # OB values have even length
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.SpecificCharacterSet = study.get("SpecificCharacterSet", "ISO_IR 192")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.preamble = b"\0" * 128  # dicomweb-client writes the dataset as is: a full Part 10 file needs it
    return ds


def _display(pixels: np.ndarray) -> np.ndarray:
    img = Image.fromarray(np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8))
    img.thumbnail((_DISPLAY_SIDE, _DISPLAY_SIDE), Image.LANCZOS)
    return np.asarray(img)


def report_pdf(predictor: Predictor, prediction: Prediction, data: bytes, operating_point: str) -> bytes:
    """The one-page case report (no heatmap) of a scored instance, from its file's bytes."""
    if prediction.probability is None or prediction.label is None:
        raise ValueError("only a scored film has a report")
    rad = load_untrusted(data, name=prediction.file)  # a PACS's bytes are untrusted too: the decode worker
    site = predictor.site.name if predictor.site is not None else None
    uid = rad.metadata.get("SOPInstanceUID")
    case = ReportCase(file_name=prediction.file, case_id=f"instance {uid}" if uid else "", probability=prediction.probability, label=prediction.label,
                      threshold=prediction.threshold, operating_point=operating_point, model=predictor.name,
                      image=_display(rad.pixels), model_description=predictor.bundle.meta.description,
                      warnings=list(prediction.warnings), metadata=dict(rad.metadata),
                      **({"calibration": f"recalibrated for {site}", "site": site} if site else {}))
    return render_report(case, "pdf")
