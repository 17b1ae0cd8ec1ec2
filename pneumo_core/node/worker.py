"""The node's one scoring thread: each queued film goes through the product's own path and its
results, if any, are sent.

Per film, in this order: a film already dealt with (`dedupe`) is dropped; the bytes are scored
by `Predictor.predict_bytes`, which decodes them in a limited worker process (`io.sandbox`)
and applies the header policy and the input gate (`inference.gate`), so a hostile file is
one `error` and a film that is not a frontal chest radiograph is `not_assessed`; the film's
`score` record is written to the audit trail before any result leaves (a film whose record
cannot be written gets none); only a scored film gets results (`pacs.results_dicom`: the SR
and the heatmap's Secondary Capture, from the same case report as the PDF), sent to the
destination and recorded as `report_stored`, one record per object, with the outcome.

The film's header is parsed here (the results copy its patient and study attributes and
reference its SOP instance) only after the decode worker read the whole file without harm.

One thread, because scoring is CPU-bound and the model already uses the cores; anything that
fails on one film is logged and the next film is taken, so no film takes the node down.
"""
from __future__ import annotations

import hashlib
import io
import logging
import queue
import threading
from collections import Counter
from typing import TYPE_CHECKING, Callable, Sequence

import pydicom

from ..audit import AuditLog
from ..errors import PneumoError
from ..inference.prediction import SCORED, Prediction
from ..pacs.errors import PacsError
from ..pacs.results_dicom import MANUFACTURER, results_for
from ..pacs.rules import is_uid
from ..pacs.store import REFUSED
from .dedupe import Seen
from .receiver import Received, uid_key
from .sender import Sender

if TYPE_CHECKING:
    from ..inference.predictor import Predictor

__all__ = ["Worker", "Builder", "product_results", "DUPLICATE", "AUDIT_FAILED", "SEND_FAILED"]

DUPLICATE, AUDIT_FAILED, SEND_FAILED, OWN_RESULT = "duplicate", "audit-failed", "send-failed", "own-result"
# (predictor, scored prediction, the film's bytes, its header, operating point) -> the objects to send
Builder = Callable[["Predictor", Prediction, bytes, pydicom.Dataset, str], Sequence[pydicom.Dataset]]
_log = logging.getLogger("pneumo_core.node")


def product_results(predictor: Predictor, pred: Prediction, data: bytes, film: pydicom.Dataset,
                    operating_point: str) -> Sequence[pydicom.Dataset]:
    """The SR, then the heatmap's Secondary Capture, of a scored film (`pacs.results_dicom`)."""
    return results_for(predictor, pred, data, film, operating_point).datasets


def own_result(data: bytes) -> bool:
    """Whether `data` is one of the node's own heatmap images (a Secondary Capture, modality OT, that
    it made): a router rule broader than CR/DX would send them back, and scoring them would make
    results of results without end. A film that does not parse is the decode worker's to refuse."""
    try:
        head = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["Modality", "Manufacturer"])
    except Exception:  # noqa: BLE001 - any parse failure: not ours; the sandboxed decode says what is wrong
        return False
    return head.get("Modality") == "OT" and head.get("Manufacturer") == MANUFACTURER


class Worker(threading.Thread):
    """Takes films off `inbox` until it gets None. `outcomes` counts what became of them
    (`scored` ones by the sender's outcome), for the log, the tests and the benchmark."""

    def __init__(self, inbox: queue.Queue, predictor: Predictor, operating_point: str, sender: Sender, seen: Seen,
                 audit: AuditLog, build: Builder = product_results) -> None:
        super().__init__(name="pneumo-node-worker", daemon=True)
        self.inbox, self.predictor, self.operating_point = inbox, predictor, operating_point
        self.threshold = predictor.threshold(operating_point)
        self.sender, self.seen, self.audit, self.build = sender, seen, audit, build
        self.outcomes: Counter[str] = Counter()

    def run(self) -> None:
        while True:
            item = self.inbox.get()
            try:
                if item is None:
                    return
                outcome = self.handle(item)
            except Exception as exc:  # noqa: BLE001 - one film's failure, whatever it is, must not stop the node
                # the kind only: a parser's message can quote the film's header (a patient's name)
                _log.error("film %s: unexpected failure (%s); the node goes on", item.shown, type(exc).__name__)
                outcome = "failed"
            finally:
                self.inbox.task_done()
            self.outcomes[outcome] += 1

    def handle(self, item: Received) -> str:
        """What became of one film: DUPLICATE, OWN_RESULT, AUDIT_FAILED, the prediction's status when it was
        not scored, SEND_FAILED, or the sender's outcome (stored, already-stored, refused)."""
        digest = hashlib.sha256(item.data).hexdigest()
        keys = (uid_key(item.sop_uid), "sha256:" + digest)
        if self.seen.any_of(*keys):
            _log.info("film %s from %s already dealt with: nothing new", item.shown, item.calling_ae)
            return DUPLICATE
        if own_result(item.data):
            _log.info("film %s from %s is one of the node's own heatmap images: not scored", item.shown, item.calling_ae)
            self.seen.add(*keys)
            return OWN_RESULT
        pred = self.predictor.predict_bytes(item.data, f"{item.sop_uid or 'film'}.dcm", self.threshold)
        user = f"dicom:{item.calling_ae}"
        film = {"instance_uid": item.sop_uid} if item.sop_uid else {}
        try:  # the record first: no result leaves without it
            self.audit.append(user, "score", **film, sha256=digest, model=pred.model, outcome=pred.status)
        except (OSError, PneumoError) as exc:
            _log.error("film %s: the audit trail could not be written (%s); no result sent", item.shown, exc)
            return AUDIT_FAILED
        if pred.status != SCORED:
            _log.info("film %s: %s, no result (%s)", item.shown, pred.status, pred.unscored_reason)
            self.seen.add(*keys)
            return pred.status
        return self._send(item, pred, user, keys)

    def _send(self, item: Received, pred: Prediction, user: str, keys: tuple[str | None, str]) -> str:
        source = pydicom.dcmread(io.BytesIO(item.data), stop_before_pixels=True)  # the sandbox decoded it already
        objects = list(self.build(self.predictor, pred, item.data, source, self.operating_point))
        ids = {k: v for k, v in (("study_uid", str(source.get("StudyInstanceUID", ""))),
                                 ("instance_uid", item.sop_uid)) if is_uid(v)}
        try:
            outcome, why = self.sender.send(source, objects)
        except PacsError as exc:
            _log.warning("film %s: results not sent (%s); sending the film again retries", item.shown, exc)
            self._record(user, ids, objects, "failed")
            return SEND_FAILED
        self._record(user, ids, objects, outcome)
        _log.info("film %s: %s (%s)", item.shown, outcome, why)
        if outcome != REFUSED:
            self.seen.add(*keys)
        return outcome

    def _record(self, user: str, ids: dict[str, str], objects: Sequence[pydicom.Dataset], outcome: str) -> None:
        for ds in objects:
            try:
                self.audit.append(user, "report_stored", **ids, report_uid=str(ds.SOPInstanceUID), outcome=outcome)
            except (OSError, PneumoError) as exc:
                _log.error("the audit trail could not record a result (%s)", exc)
