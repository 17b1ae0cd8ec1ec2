"""What a deployer fixes for the DICOM node: its own AE title and port, the AE titles allowed
to send it films, how many films may wait, and where results go (a DICOMweb server, or a
DICOM AE by C-STORE).

The allow-list is required and never empty: a node that scores whatever any host on the
network sends it would be an open door into the model and the audit trail. AE titles are
checked as DICOM writes them (PS3.5 AE: 1 to 16 characters of printable ASCII without a
backslash, not all spaces), so a typo fails at start, not at the first association.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import PneumoError

__all__ = ["NodeConfigError", "DicomwebDestination", "CStoreDestination", "Destination", "NodeConfig",
           "check_ae_title", "parse_ae_address"]

_AE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # printable ASCII but the backslash (PS3.5 6.2, AE)
_ADDRESS = re.compile(r"(?P<ae>[^@]{1,16})@(?P<host>[^:@]+):(?P<port>\d{1,5})")


class NodeConfigError(PneumoError, ValueError):
    """A node setting that cannot work (bad AE title, port, empty allow-list, no destination)."""


def check_ae_title(text: str, what: str) -> str:
    """`text` stripped, when it is a valid AE title; else `NodeConfigError` naming `what`."""
    title = str(text).strip()
    if not _AE.fullmatch(title):
        raise NodeConfigError(f"the {what} AE title must be 1 to 16 printable ASCII characters without a backslash")
    return title


def _check_port(port: int, what: str) -> int:
    if not 0 <= int(port) <= 65535:
        raise NodeConfigError(f"the {what} port must be between 0 and 65535")
    return int(port)


@dataclass(frozen=True)
class DicomwebDestination:
    """Results stored by STOW-RS into the film's own study (credentials from the environment, `pacs.config`)."""
    url: str


@dataclass(frozen=True)
class CStoreDestination:
    """Results sent by C-STORE to this AE (a PACS's or a router's DICOM port)."""
    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title, "destination"))
        _check_port(self.port, "destination")


Destination = DicomwebDestination | CStoreDestination


def parse_ae_address(text: str) -> CStoreDestination:
    """`AE@host:port` (e.g. `ORTHANC@pacs.example:4242`) as a C-STORE destination."""
    m = _ADDRESS.fullmatch(text.strip())
    if m is None:
        raise NodeConfigError("a C-STORE destination is written AE@host:port, e.g. ORTHANC@pacs.example:4242")
    return CStoreDestination(m["ae"], m["host"], int(m["port"]))


@dataclass(frozen=True)
class NodeConfig:
    """The node's settings. `port` 0 picks a free port (for tests). `queue_size` films may wait
    for the scorer; a film that finds the queue full waits up to `queue_wait_s` for a place
    (its sender waits for the answer: the scorer paces it), then is answered "out of
    resources" (0xA700). The wait stays under the answer timeouts of common senders (Orthanc's
    `DicomScuTimeout` is 10 s)."""
    allowed: tuple[str, ...]
    destination: Destination
    ae_title: str = "PNEUMO"
    host: str = "127.0.0.1"  # loopback unless the deployer names the imaging network's address, as the app
    port: int = 11112
    queue_size: int = 16
    queue_wait_s: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title, "node's"))
        allowed = tuple(check_ae_title(a, "allowed calling") for a in self.allowed)
        if not allowed:
            raise NodeConfigError("the node needs at least one allowed calling AE title (--allow AE)")
        object.__setattr__(self, "allowed", allowed)
        _check_port(self.port, "node's")
        if int(self.queue_size) < 1:
            raise NodeConfigError("the queue must hold at least one film")
        if not 0 <= float(self.queue_wait_s) <= 60:
            raise NodeConfigError("the wait for a place in the queue must be 0 to 60 seconds")
        if not isinstance(self.destination, (DicomwebDestination, CStoreDestination)):
            raise NodeConfigError("the node needs a destination for its results "
                                  "(--dicomweb URL or --store-to AE@host:port)")
