"""What a DICOMweb search answers, as records with no patient attributes: studies as a search
lists them, instances with the header fields that say what they show, and the DICOM JSON
readers that fill them."""
from __future__ import annotations

from dataclasses import dataclass

import pydicom

__all__ = ["StudySummary", "InstanceRef", "RADIOGRAPH_MODALITIES", "STUDY_FIELDS", "INSTANCE_FIELDS", "HEADER_FIELDS",
           "value", "int_or_none"]

RADIOGRAPH_MODALITIES = ("CR", "DX")
STUDY_FIELDS = ["StudyInstanceUID", "AccessionNumber", "StudyDate", "ModalitiesInStudy",
                "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"]
INSTANCE_FIELDS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality",
                   "ViewPosition", "BodyPartExamined", "InstanceNumber"]
# what a report instance needs from its study: the Patient and General Study modules (see report_dicom)
HEADER_FIELDS = ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                 "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber"]


@dataclass(frozen=True)
class StudySummary:
    """A study as a search lists it: no patient attributes."""
    study_uid: str
    accession: str
    date: str  # YYYYMMDD, as DICOM stores it
    modalities: tuple[str, ...]
    n_series: int | None
    n_instances: int | None


@dataclass(frozen=True)
class InstanceRef:
    """One instance of a study, with the header fields that say what it shows."""
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class: str = ""
    modality: str = ""
    view_position: str = ""
    body_part: str = ""
    number: int | None = None

    @property
    def name(self) -> str:
        """The `file` of its prediction line: `dicomweb:<study>/<series>/<instance>`."""
        return f"dicomweb:{self.study_uid}/{self.series_uid}/{self.sop_uid}"


def value(item: dict, keyword: str, default: str = "") -> str:
    """First value of a DICOM JSON attribute, by keyword."""
    tag = f"{pydicom.datadict.tag_for_keyword(keyword):08X}"
    values = item.get(tag, {}).get("Value") or []
    if not values:
        return default
    v = values[0]
    return str(v.get("Alphabetic", "")) if isinstance(v, dict) else str(v)


def int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
