"""`predict --dicomweb URL (--study UID | --accession ACC) [--store-report]`: a study's image
instances scored from a PACS, printed by `predict`'s own writer, one line per instance with
`file` = `dicomweb:<study>/<series>/<instance>`.

Exit codes, as for files: 2 when nothing can start (bad arguments, a server that is down,
refuses or rejects the credentials, no such study, a search or UID refused) with one `error:`
line on stderr; 1 when some instance could not be read (its line has `error`) or a report was
refused or could not be stored; else 0.

`--store-report` needs `--accession`: the accession number the operator read off the request,
compared with each study's own before a report is stored (`pacs.store`); beside each PDF go
the film's structured report and heatmap image (`pacs.results_dicom`), drawn from the same
case. The search and each report are recorded in the audit trail under "cli:<account>".
Credentials come only from the environment (`pacs.config`), and no message repeats them.
"""
from __future__ import annotations

import argparse
import sys
from functools import cache
from typing import Callable, Iterator

import pydicom

from ..audit import cli_user, default_log
from ..io.case_report import render_report
from ..inference.predictor import Prediction, Predictor
from ..pacs.client import PacsClient, PacsError, PacsRefused, StudySummary
from ..pacs.config import auth_from_env
from ..pacs.report_dicom import report_case
from ..pacs.results_dicom import StructuredResults, film_header, model_identity, results_from_case
from ..pacs.score import BATCH, ScoredInstance, score_study
from ..pacs.store import ALREADY_STORED, REFUSED, ReportContent, store_report
from ..pacs.study import StudyPlan, plan_study

__all__ = ["DicomwebJob", "open_job"]


class DicomwebJob:
    """The studies to score; `predictions` feeds `predict`'s writer, `extra` adds the `report`
    column under --store-report, `failures` counts reports refused or not stored."""

    def __init__(self, client: PacsClient, plans: list[StudyPlan], store_report: bool, operating_point: str,
                 accession: str | None = None) -> None:
        self.client, self.plans = client, plans
        self.store_report, self.operating_point, self.accession = store_report, operating_point, accession
        self.failures = 0
        self._current: ScoredInstance | None = None
        self._predictor: Predictor | None = None
        self._user = cli_user()

    @property
    def total(self) -> int:
        return sum(len(p.ordered) for p in self.plans)

    @property
    def keys(self) -> list[str]:
        return ["report"] if self.store_report else []

    def predictions(self, predictor: Predictor, threshold: float, batch_size: int) -> Iterator[Prediction]:
        self._predictor = predictor
        try:
            for plan in self.plans:
                for scored in score_study(predictor, self.client, plan, threshold, min(batch_size, BATCH)):
                    self._current = scored
                    yield scored.prediction
        finally:
            self._current = None
            self.client.close()

    def extra(self, pred: Prediction) -> dict:
        """{"report": its `dicomweb:` name, or None} under --store-report; a refusal or failure adds a warning."""
        if not self.store_report:
            return {}
        scored = self._current
        if pred.probability is None or scored is None or scored.data is None or scored.prediction is not pred:
            return {"report": None}
        content = ReportContent(pred.label, pred.probability, pred.threshold, self.operating_point, pred.site or "")
        try:
            pdf, results = _report_and_results(self._predictor, scored, self.operating_point, self.accession or "")
            done = store_report(self.client, scored.ref.study_uid, scored.ref.sop_uid, self.accession or "", pdf,
                                pred.model, content, results)
        except (PacsError, ValueError) as exc:
            self.failures += 1
            self._audit(study_uid=scored.ref.study_uid, instance_uid=scored.ref.sop_uid, outcome="failed")
            pred.warnings.append(f"report not stored: {exc}")
            return {"report": None}
        self._audit(**done.audit_ids())
        if done.outcome == REFUSED:
            self.failures += 1
            pred.warnings.append(f"report not stored: {done.message}")
        elif done.outcome == ALREADY_STORED:
            pred.warnings.append("report already stored in the study; not stored again")
        return {"report": done.name}

    def _audit(self, **ids: str | int) -> None:
        default_log().append(self._user, "report_stored", **ids)


def _report_and_results(predictor: Predictor, scored: ScoredInstance, operating_point: str, accession: str
                        ) -> tuple[Callable[[], bytes], Callable[[pydicom.Dataset], StructuredResults]]:
    """The PDF and the structured results of a scored instance, drawn from one case report
    (built at most once, and only when something is to be sent), so they say the same."""
    case = cache(lambda: report_case(predictor, scored.prediction, scored.data, operating_point, accession))
    ref = scored.ref

    def results(header: pydicom.Dataset) -> StructuredResults:
        film = film_header(header, ref.series_uid, ref.sop_uid, ref.sop_class)
        return results_from_case(film, case(), model_identity(predictor.bundle), scored.prediction.site)
    return lambda: render_report(case(), "pdf"), results


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _studies(client: PacsClient, args: argparse.Namespace) -> list[StudySummary]:
    """The studies asked for (both criteria when both are given), the search recorded in the
    audit trail, a refused one too."""
    ids = {"server": client.where[:128]}
    try:
        studies = client.search_studies(accession=args.accession, study_uid=args.study, modalities=())
    except PacsRefused:
        default_log().append(cli_user(), "pacs_search", **ids, outcome=REFUSED)
        raise
    if args.accession:
        ids["accession"] = args.accession.strip()
    default_log().append(cli_user(), "pacs_search", **ids, count=len(studies))
    return studies


def _usage(args: argparse.Namespace) -> str | None:
    if not args.dicomweb:
        return "--study, --accession and --store-report need --dicomweb URL"
    if args.paths:
        return "give either PATHs or --dicomweb, not both"
    if not args.study and not args.accession:
        return "--dicomweb needs --study UID or --accession ACC"
    if args.store_report and not args.accession:
        return ("--store-report needs --accession ACC: the study's accession number, checked against the study "
                "before a report is stored")
    if args.cam:
        return "--cam is not available with --dicomweb"
    return None


def open_job(args: argparse.Namespace) -> DicomwebJob | int:
    """Checks the arguments and the server, finds the study and sorts its instances; an exit
    code (2) after one `error:` line when any of that fails."""
    problem = _usage(args)
    if problem:
        return _error(problem)
    try:
        client = PacsClient(args.dicomweb, auth_from_env())
        client.check()
        studies = _studies(client, args)
        if not studies:
            client.close()
            return _error("no study on the PACS matches " + ("--study" if args.study else "--accession"))
        plans = [plan_study(client.instances(s.study_uid)) for s in studies]
    except PacsError as exc:
        return _error(str(exc))
    for plan in plans:
        for ref, what in plan.skipped:
            print(f"note: skipped dicomweb:{ref.study_uid}/{ref.series_uid}/{ref.sop_uid}: {what}, not an image",
                  file=sys.stderr)
    job = DicomwebJob(client, plans, args.store_report, str(args.threshold), args.accession)
    if job.total == 0:
        client.close()
        return _error("nothing to score: the study holds no image instances")
    return job
