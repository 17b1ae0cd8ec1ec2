"""The PACS page's work, kept out of the page file: the configured servers, a search, a study
scored one instance at a time through the Diagnose page's cached scorer, and a case's PDF
report, structured report and heatmap image stored back in the study (one case report for
all three, `scoring.report_case_of`; the command line's builder, `pacs.results_dicom`).

Servers come only from configuration (`pacs.config`: Streamlit secrets `[dicomweb]`, else
`PNEUMO_DICOMWEB_URL`): the page picks among them and never takes a URL from its user, so
the app cannot be turned into a proxy into the hospital network. The page shows what a
search returns without patient attributes (accession, date, modalities, counts) and, per
case, what Diagnose shows. The library's rules apply unchanged (`pacs.rules`, `pacs.store`):
a search names one accession number or a few days, and a report (with its SR and map) is
stored only when the accession number typed in its report fields is the study's, each once. Each search and each store
is recorded in the audit trail in the user's name.

Session-state keys: `pacs_studies` (the last search's `StudySummary` list, with its server),
`pacs_scored` (`ScoredStudy`: results of the study scored last), `pacs_stored` ({case digest:
(outcome, message)} of the reports stored, already stored, refused or failed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

import streamlit as st

from ...pacs.client import RADIOGRAPH_MODALITIES, PacsClient, PacsError, PacsRefused, StudySummary
from ...pacs.config import ServerConfig, servers_from
from ...pacs.rules import MAX_SEARCH_DAYS, is_uid
from ...pacs.records import InstanceRef
from ...pacs.results_dicom import StructuredResults, film_header, identity_of, results_from_case
from ...pacs.store import ALREADY_STORED, REFUSED, ReportContent
from ...pacs.score import fetch_instances
from ...pacs.study import plan_study
from ..access import identity
from ..reading import results_table
from ..reading.cases import CaseResult, label_at, result_rows
from ..reading.report_form import typed_fields
from ..reading.scoring import heatmap_for, reader_choices, report_case_of, score_file
from ..runtime.resources import model_meta

if TYPE_CHECKING:
    import pydicom

    from ...calibration.site import SiteProfile
    from ...io.case_report import ReportCase
    from ...evaluation.operating_point import OperatingPoint
    from ..settings.state import Settings

__all__ = ["STUDIES", "SCORED", "STORED", "FAILED", "ScoredStudy", "configured_servers", "search", "study_rows",
           "study_label", "score_study", "results_rows", "store_report", "ALREADY_SAID", "SEARCH_HELP"]

STUDIES, SCORED, STORED = "pacs_studies", "pacs_scored", "pacs_stored"
FAILED = "failed"  # a store the PACS did not answer or accept (beside pacs.store's outcomes)
SEARCH_HELP = (f"An exact accession number (no wildcards), or a study date range of at most {MAX_SEARCH_DAYS} days. "
               "To store a report, type the study's accession number in the case's report fields: it is checked "
               "against the study's own.")


def _plain(value: Any) -> Any:
    """Streamlit's secrets (AttrDict, nested) as plain dicts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _secrets_section() -> dict | None:
    try:
        section = st.secrets.get("dicomweb")
    except Exception:  # noqa: BLE001 - no secrets file: Streamlit raises its own FileNotFoundError kinds
        return None
    return _plain(section) if section else None


def configured_servers() -> list[ServerConfig]:
    """The servers this installation allows (secrets first, else the environment)."""
    return servers_from(_secrets_section())


def _client(server: ServerConfig) -> PacsClient:
    return PacsClient(server.url, server.auth, allow_http=server.allow_http, limits=server.limits)


def search(server: ServerConfig, accession: str = "", dates: tuple[date, ...] = (),
           modalities: tuple[str, ...] = RADIOGRAPH_MODALITIES) -> list[StudySummary]:
    """Studies on `server` by an exact accession number and/or a study date range (one date:
    that day), recorded in the audit trail; `PacsRefused` for a search the rules refuse."""
    date_from = dates[0].strftime("%Y%m%d") if dates else None
    date_to = dates[-1].strftime("%Y%m%d") if dates else None
    ids = {"server": server.name[:128]}
    try:
        with _client(server) as client:
            studies = client.search_studies(accession=accession.strip() or None, date_from=date_from,
                                            date_to=date_to, modalities=modalities)
    except PacsRefused:
        identity.audit("pacs_search", **ids, outcome=REFUSED)
        raise
    identity.audit("pacs_search", **ids, count=len(studies), **({"accession": accession.strip()} if accession.strip()
                                                                 else {}))
    return studies


def _date(text: str) -> str:
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def study_rows(studies: list[StudySummary]) -> list[dict]:
    """The study table: no patient attributes."""
    return [{"accession": s.accession, "study date": _date(s.date), "modalities": ", ".join(s.modalities),
             "series": s.n_series, "instances": s.n_instances} for s in studies]


def study_label(study: StudySummary) -> str:
    n = (f"{study.n_instances} instance{'s' if study.n_instances != 1 else ''}" if study.n_instances is not None
         else "?")
    return f"{study.accession or '(no accession)'} · {_date(study.date)} · {', '.join(study.modalities)} · {n}"


@dataclass
class ScoredStudy:
    """A study's image instances scored by the network of the profile they were scored under
    (`network`: an adapted profile's `adaptation_digest`, "" for the source network), not yet
    moved to a calibration (the page moves them to the sidebar's, `scoring.case_on_site`), the
    model they were scored with, and what was skipped."""
    server: str
    study_uid: str
    model: str
    results: list[CaseResult]
    skipped: list[str] = field(default_factory=list)  # "an Encapsulated PDF", ...
    refs: dict[str, InstanceRef] = field(default_factory=dict)  # case name -> the film in the study
    network: str = ""

    def network_of(self, site: SiteProfile | None) -> bool:
        """Whether the films were scored by the network `site` scores with (else: score again)."""
        return self.network == (site.adaptation_digest if site is not None else "")


def score_study(server: ServerConfig, study_uid: str, model: str, site: SiteProfile | None = None) -> ScoredStudy:
    """Each frontal chest instance fetched, scored and dropped in turn (one file in memory at a
    time); one the header says is not a frontal chest film is neither fetched nor scored, and is
    shown *not assessed* with that reason, as the command line's `pacs.score` does (the header
    policy, `io.header_policy`, is an upload's too). Scored by `site`'s network (an adapted
    profile's own), unmoved to its calibration: the page moves each score to the sidebar's
    profile on every rerun, so a calibration change fetches nothing again. Raises `PacsError`
    when the study cannot be listed; an instance that cannot be fetched comes back with
    `error` set."""
    with _client(server) as client:
        plan = plan_study(client.instances(study_uid))
        results = []
        for (f,) in fetch_instances(client, plan, batch_size=1):  # one file in memory at a time
            if f.data is None:
                results.append(CaseResult.unscored(f.ref.name, f.ref.sop_uid, model, f.error, f.not_assessed))
            else:
                results.append(score_file(model, f.data, f.ref.name, site, moved=False))
    return ScoredStudy(server.name, study_uid, model, results, [what for _, what in plan.skipped],
                       {ref.name: ref for ref in plan.ordered}, site.adaptation_digest if site is not None else "")


def results_rows(results: list[CaseResult], threshold: float, operating_point: str) -> list[dict]:
    """The study's results table as Diagnose shows its batch (`reading.results_table`): the
    probability printed by the one formatter, so a row says what its case says ("> 99.9%")."""
    return results_table.screen_rows(result_rows(results, threshold, operating_point))


ALREADY_SAID = ("This report, its structured report and heatmap image are already stored in the study; none was "
                "stored again.")


def _report_and_results(ref: InstanceRef, case: CaseResult, settings: Settings, expected: OperatingPoint | None
                        ) -> tuple[Callable[[], bytes], Callable[[pydicom.Dataset], StructuredResults]]:
    """The PDF and the structured results of `case`, from one case report (`scoring.report_case_of`,
    built at most once, and only when something is to be sent), so they say the same; the
    reader's choices are read now, while the script runs."""
    from ...io.case_report import render_report
    fields, choices = typed_fields(case.digest), reader_choices(case)

    @cache
    def report() -> ReportCase:
        label = label_at(case.probability, settings.threshold)
        heatmap = heatmap_for(settings.model, case, settings.method, label, settings.site)
        return report_case_of(case, settings, heatmap, fields, expected, *choices)

    def results(header: pydicom.Dataset) -> StructuredResults:
        film = film_header(header, ref.series_uid, ref.sop_uid, ref.sop_class)
        site = settings.site.name if settings.site is not None else None
        return results_from_case(film, report(), identity_of(settings.model, model_meta(settings.model)), site)
    return lambda: render_report(report(), "pdf"), results


def store_report(server: ServerConfig, scored: ScoredStudy, case: CaseResult, settings: Settings,
                 expected: OperatingPoint | None) -> tuple[str, str]:
    """Stores the case's PDF report, its structured report and heatmap image in its study
    (`pacs.store`: only when the accession number typed in its report fields is the study's,
    and each once); (outcome, message to show), the outcome recorded in the audit trail."""
    from ...pacs.store import store_report as store

    ref = scored.refs.get(case.name)
    if not case.ok or ref is None:
        return REFUSED, "Report not stored: only a scored film has a report."
    sop = ref.sop_uid
    fields = typed_fields(case.digest)
    label = label_at(case.probability, settings.threshold)
    content = ReportContent(label, float(case.probability), float(settings.threshold), settings.operating_point,
                            settings.site.name if settings.site is not None else "", fields.impression, fields.reader)
    pdf, results = _report_and_results(ref, case, settings, expected)
    try:
        with _client(server) as client:
            done = store(client, scored.study_uid, sop, fields.accession_number, pdf, settings.model, content,
                         results=results)
    except (PacsError, ValueError) as exc:
        ids = {k: v for k, v in (("study_uid", scored.study_uid), ("instance_uid", sop)) if is_uid(v)}
        identity.audit("report_stored", **ids, outcome=FAILED)
        return FAILED, f"Report not stored: {exc}"
    identity.audit("report_stored", **done.audit_ids())
    if done.outcome == REFUSED:
        return REFUSED, f"Report not stored: {done.message}"
    return done.outcome, ALREADY_SAID if done.outcome == ALREADY_STORED else done.message
