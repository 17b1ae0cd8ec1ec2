"""The case report as a DICOM Encapsulated PDF, stored beside the images it reports on.

A new series (Modality DOC) in the same study; its UIDs are given by the caller (`pacs.store`
derives them from what the report says, so the same report stored twice is one instance) or
fresh. From the study it copies only
what the Encapsulated PDF IOD requires: the Patient module's four Type 2 attributes (name, ID,
birth date, sex) and the General Study module's identifying attributes, so the report files
under the right patient and study and carries nothing more about them.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from ..io.case_report import ReportCase, render_report
from ..io.sandbox import load_untrusted
from ..reporting.region_check import RegionCheck
from ..reporting.shortcut_check import ShortcutCheck

if TYPE_CHECKING:  # the app's PACS page imports this module before torch has loaded
    from ..inference.predictor import Prediction, Predictor

__all__ = ["ENCAPSULATED_PDF", "PATIENT_ATTRIBUTES", "STUDY_ATTRIBUTES", "REPORT_SERIES_NUMBER", "encapsulated_pdf",
           "report_pdf", "report_case"]

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


def _region_check(predictor: Predictor, exp, threshold: float) -> RegionCheck:
    """The heatmap's check as the app's PDF words it (`reporting.region_check`): the same one
    filled-in pass (`evaluation.saliency_checks.filled_logit`), judged on the source-calibrated
    logit and on the call at `threshold`, P in the predictor's own calibration."""
    from ..evaluation.saliency_checks import FRACTION, filled_logit
    after = filled_logit(predictor, exp.model_input, exp.heatmap, FRACTION)
    p_before, p_after = (float(p) for p in predictor.probabilities([exp.logit, after]))
    t = predictor.bundle.temperature  # logits source-calibrated, like `Prediction.logit`
    return RegionCheck(exp.target_class, float(exp.logit) / t, after / t, p_before, p_after, threshold, FRACTION)


def _shortcut_check(predictor: Predictor, exp, called: str, threshold: float) -> ShortcutCheck:
    """The shortcut check as the app's PDF words it (`reporting.shortcut_check`), P in the
    predictor's own calibration, as `_region_check`'s."""
    from ..inference.shortcut import find_shortcut
    found = find_shortcut(predictor, exp.model_input, exp.heatmap)
    where = (called, found.markers_on_film, found.on_marker, found.outside_body, threshold)
    if not found.flagged:
        return ShortcutCheck(*where)
    p_before, p_after = (float(p) for p in predictor.probabilities([found.logit_before, found.logit_after]))
    t = predictor.bundle.temperature
    return ShortcutCheck(*where, found.logit_before / t, found.logit_after / t, p_before, p_after)


def report_pdf(predictor: Predictor, prediction: Prediction, data: bytes, operating_point: str,
               accession: str = "") -> bytes:
    """The case report of a scored instance as a PDF (`report_case`, drawn)."""
    return render_report(report_case(predictor, prediction, data, operating_point, accession), "pdf")


def report_case(predictor: Predictor, prediction: Prediction, data: bytes, operating_point: str,
                accession: str = "") -> ReportCase:
    """The case report of a scored instance, from its file's bytes: the app's report
    (`reporting.case`), with the model's default heatmap and its check, the operating point's
    expected sensitivity and specificity, and the accession number the study was opened by.
    The check under the map is worded by `reporting.region_check`, as on screen and in the
    app's PDF, and a map that failed it is drawn dimmed.
    The film is decoded in the decode worker (a PACS's bytes are untrusted too) and turned as
    the input gate turned it, so the heatmap lies on the anatomy it explains."""
    from ..evaluation.operating_point import operating_point as expected_at
    from ..inference import saliency
    from ..inference.orientation import undo
    from ..inference.saliency_default import default_method
    from ..reporting.case import HeatmapSummary, ReaderFields, case_name, case_report

    if prediction.probability is None or prediction.label is None or prediction.model_input is None:
        raise ValueError("only a scored film has a report")
    rad = load_untrusted(data, name=prediction.file)
    display = _display(rad.pixels)
    if prediction.correction is not None:
        display = undo(display, prediction.correction)
    method = default_method(predictor.bundle.arch)
    exp = saliency.explain(predictor, prediction.model_input, method=method, target=prediction.label)
    check = _region_check(predictor, exp, prediction.threshold)
    heat = HeatmapSummary(exp.heatmap, saliency.METHODS[method].label, exp.target_class if exp.class_specific else "",
                          exp.note, check.text, dimmed=check.map_fails,
                          shortcut=_shortcut_check(predictor, exp, prediction.label, prediction.threshold).text)
    uid = rad.metadata.get("SOPInstanceUID")
    meta = predictor.bundle.meta
    return case_report(model=predictor.name, model_description=meta.description, temperature=meta.temperature,
                       site=predictor.site, probability=prediction.probability, threshold=prediction.threshold,
                       operating_point=operating_point, display=display, heatmap=heat, opacity=0.5,
                       expected=expected_at(predictor.bundle.directory, prediction.threshold, predictor.site),
                       fields=ReaderFields(accession_number=accession), warnings=prediction.warnings,
                       metadata=rad.metadata, case_id=case_name(accession, uid, hashlib.sha256(data).hexdigest()),
                       file_name=prediction.file)
