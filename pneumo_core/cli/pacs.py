"""`predict --dicomweb URL (--study UID | --accession ACC) [--store-report]`: a study's image
instances scored from a PACS, printed by `predict`'s own writer, one line per instance with
`file` = `dicomweb:<study>/<series>/<instance>`.

Exit codes, as for files: 2 when nothing can start (bad arguments, a server that is down,
refuses or rejects the credentials, no such study) with one `error:` line on stderr; 1 when
some instance could not be read (its line has `error`) or a report could not be stored; else 0.
Credentials come only from the environment (`pacs.config`), and no message repeats them.
"""
from __future__ import annotations

import argparse
import sys
from typing import Iterator

from ..inference.predictor import Prediction, Predictor
from ..pacs.client import PacsClient, PacsError, StudySummary
from ..pacs.config import auth_from_env
from ..pacs.report_dicom import encapsulated_pdf, report_pdf
from ..pacs.score import BATCH, ScoredInstance, score_study
from ..pacs.study import StudyPlan, plan_study

__all__ = ["DicomwebJob", "open_job"]


class DicomwebJob:
    """The studies to score; `predictions` feeds `predict`'s writer, `extra` adds the `report`
    column under --store-report, `failures` counts reports that could not be stored."""

    def __init__(self, client: PacsClient, plans: list[StudyPlan], store_report: bool, operating_point: str) -> None:
        self.client, self.plans = client, plans
        self.store_report, self.operating_point = store_report, operating_point
        self.failures = 0
        self._current: ScoredInstance | None = None
        self._predictor: Predictor | None = None
        self._headers: dict[str, object] = {}  # one study header per study, not one lookup per film

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
        """{"report": its `dicomweb:` name, or None} under --store-report; a failure adds a warning."""
        if not self.store_report:
            return {}
        scored = self._current
        if pred.probability is None or scored is None or scored.data is None or scored.prediction is not pred:
            return {"report": None}
        try:
            pdf = report_pdf(self._predictor, pred, scored.data, self.operating_point)
            uid = scored.ref.study_uid
            if uid not in self._headers:
                self._headers[uid] = self.client.study_header(uid)
            ds = encapsulated_pdf(pdf, self._headers[uid])
            self.client.store(ds)
        except (PacsError, ValueError) as exc:
            self.failures += 1
            pred.warnings.append(f"report not stored: {exc}")
            return {"report": None}
        return {"report": f"dicomweb:{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}"}


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _studies(client: PacsClient, args: argparse.Namespace) -> list[StudySummary]:
    if args.study:
        return client.search_studies(study_uid=args.study, modalities=())
    return client.search_studies(accession=args.accession, modalities=())


def open_job(args: argparse.Namespace) -> DicomwebJob | int:
    """Checks the arguments and the server, finds the study and sorts its instances; an exit
    code (2) after one `error:` line when any of that fails."""
    if not args.dicomweb:
        return _error("--study, --accession and --store-report need --dicomweb URL")
    if args.paths:
        return _error("give either PATHs or --dicomweb, not both")
    if bool(args.study) == bool(args.accession):
        return _error("--dicomweb needs exactly one of --study UID or --accession ACC")
    if args.cam:
        return _error("--cam is not available with --dicomweb")
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
    job = DicomwebJob(client, plans, args.store_report, str(args.threshold))
    if job.total == 0:
        client.close()
        return _error("nothing to score: the study holds no image instances")
    return job
