"""The one case report: the app's download and the PDF the command line stores in a PACS are
both built here, from the same facts, so a study's stored report says what the reader saw on
screen: the film and its heatmap, the map's check in words, the call at the operating point with
its expected sensitivity and specificity, the calibration, and the reader's typed fields."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..io.overlay import overlay_legend, render_overlay
from ..stats.decision import call_label
from .words import calibration_clause, calibration_detail, calibration_label, site_name

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile
    from ..evaluation.operating_point import OperatingPoint
    from ..io.case_report import ReportCase

__all__ = ["ReaderFields", "HeatmapSummary", "NO_ESTIMATE", "NO_ESTIMATE_ADAPTED", "no_estimate", "case_name",
           "case_report"]

NO_ESTIMATE = ("No estimate of sensitivity and specificity exists at this threshold for this calibration: a site "
               "profile carries one only at the threshold it was cross-fitted at (its balanced one), and grading it "
               "on other films would not describe the site.")
NO_ESTIMATE_ADAPTED = ("No estimate of sensitivity and specificity exists at any threshold for this calibration: the "
                       "profile was adapted without labels, so nothing was measured at its site. The adaptation's page "
                       "says what the validation study expects of the method; a labelled sample (Calibrate for your "
                       "site) measures it here.")


def no_estimate(site: SiteProfile | None) -> str:
    """Why no estimate is shown: a labelled profile has one at its cross-fitted threshold only;
    a profile adapted without labels has none anywhere (saying "except at its balanced one"
    while the balanced one is in use would be false)."""
    return NO_ESTIMATE_ADAPTED if site is not None and site.adaptation and not site.labelled else NO_ESTIMATE


@dataclass(frozen=True)
class ReaderFields:
    """What the reader typed for the report: never read from the file's tags."""
    accession_number: str = ""
    impression: str = ""
    reader: str = ""


@dataclass(frozen=True)
class HeatmapSummary:
    """The heatmap as the report shows it: the map, what it explains and its check in words."""
    heatmap: np.ndarray  # float32 SxS in [0, 1], relative
    method: str          # the method's label, as the sidebar names it
    target_class: str    # "" when the method explains no class (EigenCAM)
    note: str
    check: str           # the check in words (`region_check.RegionCheck.text`)
    dimmed: bool = False  # the map failed its check: drawn dimmed, as on screen
    shortcut: str = ""   # the shortcut check in words (`shortcut_check.ShortcutCheck.text`), as on screen


def case_name(accession: str = "", instance_uid: str | None = None, sha256: str = "") -> str:
    """How the CSV and the PDF name a case, never by its file name (often the patient's): the
    accession number the reader typed, else the DICOM instance UID, else the first 12 hex
    digits of the file's sha256."""
    if accession.strip():
        return f"accession {' '.join(accession.split())}"
    return f"instance {instance_uid}" if instance_uid else f"sha256 {sha256[:12]}"


def case_report(*, model: str, model_description: str, temperature: float, site: SiteProfile | None,
                probability: float, threshold: float, operating_point: str, display: np.ndarray,
                heatmap: HeatmapSummary | None, opacity: float, expected: OperatingPoint | None,
                fields: ReaderFields, warnings: list[str], metadata: dict[str, str], case_id: str,
                file_name: str = "", show_file_name: bool = False,
                identity: tuple[tuple[str, str], ...] = ()) -> ReportCase:
    """The report's content (`io.case_report.render_report` draws it as PDF or PNG).

    Args:
        probability, threshold: in the calibration in use (`site`, or the source's when None);
            the call follows the one decision rule.
        display: the film as shown (uint8, grey); the heatmap is blended over it at `opacity`.
        expected: the operating point's expected sensitivity and specificity, or None where no
            honest estimate exists at `threshold` (the report says so).
        case_id: how the report names the case (accession, instance UID or a content hash);
            the file name is printed only with `show_file_name`.
        identity: the header's patient fields (`io.identity.FilmIdentity.rows`), printed as
            given: empty unless the reader chose to print them.
    """
    from ..io.case_report import ReportCase  # matplotlib: only when a report is drawn
    estimates = {"operating_point_source": no_estimate(site)}
    if expected is not None:
        estimates = dict(sensitivity=float(expected.sensitivity), sensitivity_ci=tuple(expected.sensitivity_ci),
                         specificity=float(expected.specificity), specificity_ci=tuple(expected.specificity_ci),
                         operating_point_words=expected.in_words(), operating_point_source=expected.source)
    shown = {}
    if heatmap is not None:
        drawn_for = heatmap.target_class or call_label(probability, threshold)  # as on screen: never red on NORMAL
        shown = dict(overlay=render_overlay(display, heatmap.heatmap, opacity, drawn_for, heatmap.dimmed),
                     method=heatmap.method, target_class=heatmap.target_class,
                     heatmap_note=f"{heatmap.note} Overlay: {overlay_legend(drawn_for)}.", heatmap_check=heatmap.check,
                     heatmap_shortcut=heatmap.shortcut)
    return ReportCase(file_name=file_name, probability=float(probability), label=call_label(probability, threshold),
                      threshold=float(threshold), operating_point=operating_point, model=model, image=display,
                      model_description=model_description, warnings=list(warnings), metadata=dict(metadata),
                      calibration=calibration_label(site.name if site is not None else None),
                      calibration_detail=calibration_detail(site, temperature),
                      site=site_name(site.name) if site is not None else None,
                      calibration_clause=calibration_clause(site) if site is not None else "",
                      accession_number=fields.accession_number, impression=fields.impression, reader=fields.reader,
                      case_id=case_id, show_file_name=show_file_name, identity=tuple(identity), **shown, **estimates)
