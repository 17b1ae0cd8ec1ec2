"""A case report stored in its study deliberately: only when the accession number the reader
typed is the study's own, and once, however often it is asked for.

- **The typed accession must match.** The reader types the accession number from the request
  in front of them; it is compared with the study's own AccessionNumber before anything is
  stored, so a report cannot land in the wrong patient's study by a slip in the study list.
- **The same report is stored once.** Its SOP Instance and Series UIDs are derived (`2.25.`
  and 128 bits of a SHA-256) from what makes two reports the same: the study, the film it
  reports on, the model, and what it says (`ReportContent`: call, probability, threshold,
  operating point, site calibration, the reader's impression and name). The PDF's bytes are
  not used: they carry the time they were drawn. Before STOW-RS the study is asked for that
  UID; a second store of the same report answers "already stored" and sends nothing. Two
  stores racing each other send the same UID, which a PACS keeps once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .client import PacsClient
from .errors import PacsRefused
from .report_dicom import encapsulated_pdf
from .rules import check_uid
from .uids import ReportContent, report_uids

__all__ = ["STORED", "ALREADY_STORED", "REFUSED", "ReportContent", "StoredReport", "report_uids", "store_report"]

STORED, ALREADY_STORED, REFUSED = "stored", "already-stored", "refused"


@dataclass(frozen=True)
class StoredReport:
    """What happened: `outcome` is STORED, ALREADY_STORED or REFUSED; `message` is one line to
    show. UIDs are filled only once they passed the UID grammar."""
    outcome: str
    message: str
    study_uid: str = ""
    source_uid: str = ""
    report_uid: str = ""
    series_uid: str = ""

    @property
    def name(self) -> str | None:
        """`dicomweb:<study>/<series>/<instance>` of the report in the PACS, None when refused."""
        if self.outcome == REFUSED:
            return None
        return f"dicomweb:{self.study_uid}/{self.series_uid}/{self.report_uid}"

    def audit_ids(self) -> dict[str, str]:
        """The identifiers of a `report_stored` audit record."""
        ids = {"study_uid": self.study_uid, "instance_uid": self.source_uid, "report_uid": self.report_uid}
        return {k: v for k, v in ids.items() if v} | {"outcome": self.outcome}


def store_report(client: PacsClient, study_uid: str, source_uid: str, typed_accession: str,
                 pdf: Callable[[], bytes], model: str, content: ReportContent) -> StoredReport:
    """Stores the report of film `source_uid` in study `study_uid` unless refused or already
    there. `pdf` renders the document and is called only when it is about to be sent. Raises
    `PacsError` when the PACS cannot be asked or does not accept it."""
    try:
        check_uid(study_uid, "study")
        check_uid(source_uid, "film's instance")
    except PacsRefused as exc:
        return StoredReport(REFUSED, f"{exc}; nothing stored")
    sop, series = report_uids(study_uid, source_uid, model, content)
    ids = dict(study_uid=study_uid, source_uid=source_uid, report_uid=sop, series_uid=series)
    typed = (typed_accession or "").strip()
    if not typed:
        return StoredReport(REFUSED, "refused: type the study's accession number in the report fields first; "
                                     "nothing stored", **ids)
    header = client.study_header(study_uid)
    own = str(header.get("AccessionNumber", "") or "").strip()
    if not own:
        return StoredReport(REFUSED, "refused: the study has no accession number to check the typed one "
                                     "against; nothing stored", **ids)
    if typed != own:
        return StoredReport(REFUSED, "refused: the accession number typed is not this study's; nothing stored",
                            **ids)
    if client.has_instance(study_uid, sop):
        return StoredReport(ALREADY_STORED, "This report is already stored in the study; it was not stored "
                                            "again.", **ids)
    client.store(encapsulated_pdf(pdf(), header, sop_uid=sop, series_uid=series))
    return StoredReport(STORED, f"Report stored in the study (its own series, instance {sop}).", **ids)
