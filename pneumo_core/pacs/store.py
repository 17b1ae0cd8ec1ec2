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
- **The structured results go with it, by the same rules.** Asked for, the film's structured
  report and heatmap image (`results_dicom`) are stored beside the PDF after the same
  accession check, each under a UID derived from the model's findings (`uids.result_uids`: the
  reader's words are the PDF's, not theirs); only the ones the study lacks are built and sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import pydicom

from .client import PacsClient
from .errors import PacsRefused
from .report_dicom import encapsulated_pdf
from .rules import check_uid
from .uids import MAP_KIND, SR_KIND, ReportContent, report_uids, result_uids

if TYPE_CHECKING:
    from .results_dicom import StructuredResults

__all__ = ["STORED", "ALREADY_STORED", "REFUSED", "ReportContent", "StoredReport", "report_uids", "store_report"]

STORED, ALREADY_STORED, REFUSED = "stored", "already-stored", "refused"


@dataclass(frozen=True)
class StoredReport:
    """What happened: `outcome` is STORED, ALREADY_STORED or REFUSED; `message` is one line to
    show. UIDs are filled only once they passed the UID grammar; `sr_uid` and `map_uid` only
    when the structured results were asked for."""
    outcome: str
    message: str
    study_uid: str = ""
    source_uid: str = ""
    report_uid: str = ""
    series_uid: str = ""
    sr_uid: str = ""
    map_uid: str = ""

    @property
    def name(self) -> str | None:
        """`dicomweb:<study>/<series>/<instance>` of the report in the PACS, None when refused."""
        if self.outcome == REFUSED:
            return None
        return f"dicomweb:{self.study_uid}/{self.series_uid}/{self.report_uid}"

    def audit_ids(self) -> dict[str, str]:
        """The identifiers of a `report_stored` audit record (the trail's keys: the SR and the
        map follow from the same inputs as `report_uid`, so the record names the report only)."""
        ids = {"study_uid": self.study_uid, "instance_uid": self.source_uid, "report_uid": self.report_uid}
        return {k: v for k, v in ids.items() if v} | {"outcome": self.outcome}


def _refusal(client: PacsClient, study_uid: str, typed_accession: str,
             ids: dict[str, str]) -> StoredReport | pydicom.Dataset:
    """The study's header when the typed accession number is the study's own, else the refusal."""
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
    return header


def _built(results: Callable[[pydicom.Dataset], StructuredResults], header: pydicom.Dataset,
           expected: set[str]) -> StructuredResults:
    """The SR and the map, before anything is sent; ValueError when they do not carry the UIDs
    the content gives, which the already-stored check relied on."""
    built = results(header)
    if {str(ds.SOPInstanceUID) for ds in built.datasets} != expected:
        raise ValueError("the structured results do not carry the UIDs their content gives; nothing stored")
    return built


def _stored_message(sent_report: bool, sent_results: bool, sop: str) -> str:
    if sent_report:
        with_results = ", with its structured report and heatmap image" if sent_results else ""
        return f"Report stored in the study (its own series, instance {sop}){with_results}."
    return "The structured report and heatmap image were stored beside the report already in the study."


def store_report(client: PacsClient, study_uid: str, source_uid: str, typed_accession: str,
                 pdf: Callable[[], bytes], model: str, content: ReportContent,
                 results: Callable[[pydicom.Dataset], StructuredResults] | None = None) -> StoredReport:
    """Stores the report of film `source_uid` in study `study_uid` unless refused or already
    there. `pdf` renders the document and is called only when it is about to be sent.
    `results`, when given, builds the film's structured report and heatmap image from the
    study's header (`results_dicom.film_header`, `results_from_case`); they are stored beside
    the report under the same rules, each once, and built only when one is missing. Raises
    `PacsError` when the PACS cannot be asked or does not accept it."""
    try:
        check_uid(study_uid, "study")
        check_uid(source_uid, "film's instance")
    except PacsRefused as exc:
        return StoredReport(REFUSED, f"{exc}; nothing stored")
    sop, series = report_uids(study_uid, source_uid, model, content)
    ids = dict(study_uid=study_uid, source_uid=source_uid, report_uid=sop, series_uid=series)
    if results is not None:
        ids["sr_uid"] = result_uids(SR_KIND, study_uid, source_uid, model, content)[0]
        ids["map_uid"] = result_uids(MAP_KIND, study_uid, source_uid, model, content)[0]
    header = _refusal(client, study_uid, typed_accession, ids)
    if isinstance(header, StoredReport):
        return header
    wanted = [sop] + [ids[k] for k in ("sr_uid", "map_uid") if k in ids]
    missing = [uid for uid in wanted if not client.has_instance(study_uid, uid)]
    if not missing:
        return StoredReport(ALREADY_STORED, "This report is already stored in the study; it was not stored "
                                            "again.", **ids)
    # built (and checked) before the PDF is sent: a failure sends nothing
    built = _built(results, header, set(wanted[1:])) if results is not None and missing != [sop] else None
    if sop in missing:
        client.store(encapsulated_pdf(pdf(), header, sop_uid=sop, series_uid=series))
    for ds in built.datasets if built is not None else ():
        if str(ds.SOPInstanceUID) in missing:
            client.store(ds)
    return StoredReport(STORED, _stored_message(sop in missing, built is not None, sop), **ids)
