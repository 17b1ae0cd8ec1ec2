"""Where a film's results go: into the film's own study on a DICOMweb server (STOW-RS), or to
a DICOM AE by C-STORE. Either way each object's UIDs are derived from the film and what the
result says (`pacs.results_dicom`), so sending again stores nothing new.

DICOMweb keeps the deliberate-write rules of a stored report (`pacs.store`): the results go
only into a study the PACS already holds (the film reached the node from it) and whose
accession number is the film's own, and an object the study already holds is not sent again.
C-STORE cannot ask first; the receiving PACS keeps one copy of a SOP Instance UID.
"""
from __future__ import annotations

import ssl
from typing import Protocol

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from requests.auth import AuthBase

from ..pacs.client import PacsClient
from ..pacs.config import auth_from_env
from ..pacs.errors import PacsAuthError, PacsError, PacsUnavailable
from ..pacs.store import ALREADY_STORED, REFUSED, STORED
from .config import CStoreDestination, Destination, DicomwebDestination

__all__ = ["Sender", "DicomwebSender", "CStoreSender", "sender_for"]

_TIMEOUT_S = 30.0  # each of association, answer and network silence


class Sender(Protocol):
    def send(self, source: pydicom.Dataset, objects: list[pydicom.Dataset]) -> tuple[str, str]:
        """(outcome: STORED, ALREADY_STORED or REFUSED; one line saying why). Raises `PacsError`
        when the destination cannot be reached or does not accept an object."""


class DicomwebSender:
    """A client per film: a node runs for months, and a client keeps each study's header it read."""

    def __init__(self, url: str, auth: AuthBase | None = None, allow_http: bool | None = None) -> None:
        self.url, self.auth, self.allow_http = url, auth, allow_http
        PacsClient(url, auth, allow_http=allow_http).close()  # a URL it would refuse fails at start

    def send(self, source: pydicom.Dataset, objects: list[pydicom.Dataset]) -> tuple[str, str]:
        with PacsClient(self.url, self.auth, allow_http=self.allow_http) as client:
            return self._send(client, source, objects)

    @staticmethod
    def _send(client: PacsClient, source: pydicom.Dataset, objects: list[pydicom.Dataset]) -> tuple[str, str]:
        study = str(source.get("StudyInstanceUID", ""))
        try:
            header = client.study_header(study)
        except (PacsUnavailable, PacsAuthError):
            raise
        except PacsError:
            return REFUSED, "the PACS does not hold the film's study; nothing stored"
        own = str(header.get("AccessionNumber", "") or "").strip()
        if own != str(source.get("AccessionNumber", "") or "").strip():
            return REFUSED, "the study on the PACS has another accession number than the film; nothing stored"
        sent = 0
        for ds in objects:
            if not client.has_instance(study, str(ds.SOPInstanceUID)):
                client.store(ds)
                sent += 1
        if sent == 0:
            return ALREADY_STORED, "the study already holds these results; nothing sent"
        return STORED, f"{sent} result object(s) stored in the film's study"


class CStoreSender:
    """One association per film's results, as the node's own AE title, over TLS when given a
    client context (`tls.client_context`); a warning status (0xB000-0xBFFF: stored, with
    coercion) counts as stored."""

    def __init__(self, destination: CStoreDestination, calling_ae: str, tls: ssl.SSLContext | None = None) -> None:
        self.destination, self.calling_ae, self.tls = destination, calling_ae, tls

    def send(self, source: pydicom.Dataset, objects: list[pydicom.Dataset]) -> tuple[str, str]:
        d = self.destination
        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = _TIMEOUT_S
        for sop_class in sorted({str(ds.SOPClassUID) for ds in objects}):
            ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        assoc = ae.associate(d.host, d.port, ae_title=d.ae_title,
                             tls_args=(self.tls, d.host) if self.tls is not None else None)
        if not assoc.is_established:
            raise PacsUnavailable(f"the AE {d.ae_title} at {d.host}:{d.port} did not accept an association")
        try:
            for ds in objects:
                status = assoc.send_c_store(ds)
                code = int(getattr(status, "Status", -1)) if status else -1
                if code != 0 and not 0xB000 <= code <= 0xBFFF:  # success, or a warning: stored
                    raise PacsError(f"the AE {d.ae_title} did not store a result (status 0x{code & 0xFFFF:04X})")
        finally:
            assoc.release()
        return STORED, f"{len(objects)} result object(s) sent to {d.ae_title}"


def sender_for(destination: Destination, calling_ae: str, tls: ssl.SSLContext | None = None) -> Sender:
    """The sender of a configured destination (DICOMweb credentials from the environment; `tls`
    for C-STORE: DICOMweb is https, verified, already)."""
    if isinstance(destination, DicomwebDestination):
        return DicomwebSender(destination.url, auth_from_env())
    return CStoreSender(destination, calling_ae, tls)
