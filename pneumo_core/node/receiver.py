"""The node's network side: a pynetdicom Storage SCP that accepts CR, DX and Secondary Capture
films from the allowed AE titles and only puts their bytes on a bounded queue. Nothing is
decoded or scored in a network thread: a hostile film reaches the decoding worker
(`io.sandbox`) through the queue like any other, and a slow model never holds an association.

Back-pressure: a film that finds the queue full waits for a place (`NodeConfig.queue_wait_s`),
its sender waiting for the answer, so a router that sends faster than the model scores is
slowed to the model's pace; past the wait it is answered 0xA700 "Refused: Out of Resources"
(and the log says so), so the sender keeps it and retries it later. A film answered success is
the node's: if its results then fail to send, that is recorded and logged, not retried; films
still queued when the process is killed are lost (the sender was told they were stored).
Memory: the queue's films, plus one film per association waiting (pynetdicom allows
`AE.maximum_associations`, 10, at once); pynetdicom holds a whole received dataset in memory
before the handler sees it, so a film over ingest's size limit is refused (0xC000) only then.
A film already dealt with (`dedupe.Seen`, by SOP Instance UID) is answered success and not queued.
A calling AE title not on the allow-list is rejected at association ("calling AE title not
recognised") and recorded in the audit trail as `access_denied`.
"""
from __future__ import annotations

import logging
import queue
import ssl
from dataclasses import dataclass

from pynetdicom import ALL_TRANSFER_SYNTAXES, AE, evt
from pynetdicom.sop_class import (ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation,
                                  DigitalXRayImageStorageForProcessing, SecondaryCaptureImageStorage, Verification)
from pynetdicom.transport import ThreadedAssociationServer

from ..audit import AuditError, AuditLog, printable
from ..io.limits import MAX_FILE_BYTES
from ..pacs.rules import is_uid
from .config import NodeConfig
from .dedupe import Seen

__all__ = ["Received", "FILM_CLASSES", "SUCCESS", "OUT_OF_RESOURCES", "CANNOT_UNDERSTAND", "start_receiver",
           "uid_key"]

FILM_CLASSES = (ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation,
                DigitalXRayImageStorageForProcessing, SecondaryCaptureImageStorage)
SUCCESS, OUT_OF_RESOURCES, CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC000
_log = logging.getLogger("pneumo_core.node")


@dataclass(frozen=True)
class Received:
    """One film as it arrived: its bytes in the DICOM file format, its SOP Instance UID as the
    sender announced it ("" when that is not a valid UID), and the calling AE title (one on
    the allow-list: any other was rejected before a film could arrive)."""
    data: bytes
    sop_uid: str
    calling_ae: str

    @property
    def shown(self) -> str:
        """How the log names it."""
        return self.sop_uid or "(no valid UID)"


def uid_key(sop_uid: str) -> str | None:
    """The `Seen` key of a SOP Instance UID; None for none (films without a valid UID are
    told apart by their content only)."""
    return "uid:" + sop_uid if sop_uid else None


def _on_store(event, inbox: queue.Queue, seen: Seen, wait_s: float) -> int:
    announced = str(event.request.AffectedSOPInstanceUID or "")
    sop = announced if is_uid(announced) else ""  # it reaches logs and the audit trail: a UID or nothing
    caller = str(event.assoc.requestor.ae_title).strip()
    if seen.any_of(uid_key(sop)):
        _log.info("film %s from %s already dealt with: answered success, not queued", sop, caller)
        return SUCCESS
    film = Received(event.encoded_dataset(include_meta=True), sop, caller)
    if len(film.data) > MAX_FILE_BYTES:
        _log.warning("film %s from %s refused (0xC000): %d bytes, over the %d MB limit; a retry would fail too",
                     film.shown, caller, len(film.data), MAX_FILE_BYTES // 2**20)
        return CANNOT_UNDERSTAND
    try:
        inbox.put(film, timeout=wait_s)
    except queue.Full:
        _log.warning("queue full (%d films waiting, no place within %.1f s): film %s from %s answered 0xA700 "
                     "Out of Resources; the sender keeps it and retries", inbox.maxsize, wait_s, film.shown, caller)
        return OUT_OF_RESOURCES
    return SUCCESS


def _on_rejected(event, audit: AuditLog) -> None:
    caller = str(event.assoc.requestor.ae_title).strip() or "(blank)"  # anyone's 16 bytes: escaped in the log
    _log.warning("association from AE %s at %s rejected (a calling AE title not on the allow-list, or the node "
                 "at its association limit)", printable(caller), event.assoc.requestor.address)
    try:
        audit.append(f"dicom:{caller}", "access_denied", outcome="rejected")
    except (OSError, AuditError) as exc:
        _log.error("the audit trail could not record a rejected association (%s)", exc)


def start_receiver(config: NodeConfig, inbox: queue.Queue, seen: Seen, audit: AuditLog,
                   ssl_context: ssl.SSLContext | None = None) -> ThreadedAssociationServer:
    """Starts listening (in pynetdicom's threads) and returns the server; `.shutdown()` stops it."""
    ae = AE(ae_title=config.ae_title)
    ae.require_calling_aet = list(config.allowed)
    for sop_class in FILM_CLASSES:
        ae.add_supported_context(sop_class, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)  # C-ECHO, how a router checks the node is there
    handlers = [(evt.EVT_C_STORE, _on_store, [inbox, seen, config.queue_wait_s]),
                (evt.EVT_REJECTED, _on_rejected, [audit])]
    server = ae.start_server((config.host, config.port), block=False, evt_handlers=handlers, ssl_context=ssl_context)
    _log.info("DICOM node %s listening on %s:%d for %s", config.ae_title, *server.server_address[:2],
              ", ".join(config.allowed))
    return server
