"""Where the trail's head is kept outside its own file, one `seq hash` line per record as it is written.

A hash chain shows an edited or removed line, but not lines cut off the end, nor a file rewritten
with every hash recomputed: both leave a chain that is whole. A copy of each record's hash written
somewhere the trail's writer cannot rewrite (another host, write-once storage, the system log) shows
both: `audit --verify --anchor FILE` compares the trail with it.

`PNEUMO_AUDIT_ANCHOR` names the sink: a file path (opened `O_APPEND` for every record, so nothing this
program does can rewrite a line already there; put it on another host or append-only storage, e.g.
`chattr +a`), `syslog` (the local `/dev/log`, which the system logger forwards as configured),
`syslog+tcp://host[:port]` (TCP: a server that cannot be reached fails the record) or
`syslog://host[:port]` (UDP, as `logger -n`: a lost datagram goes unnoticed until `--verify`).
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
import socket
from pathlib import Path
from typing import Iterator, Protocol
from urllib.parse import urlsplit

__all__ = ["ENV_ANCHOR", "Anchor", "FileAnchor", "SyslogAnchor", "anchor_from", "configured_anchor", "read_anchor"]

ENV_ANCHOR = "PNEUMO_AUDIT_ANCHOR"
SYSLOG_TAG = "pneumo-audit"
# "seq hash" alone (the file), or after this program's syslog tag (an export prefixes date and host)
_ENTRY = re.compile(rf"^(?:.*\b{SYSLOG_TAG}(?:\[\d+\])?: )?(\d+) ([0-9a-f]{{64}})\s*$")


class Anchor(Protocol):
    def write(self, seq: int, digest: str) -> None:
        """Records that the trail's record `seq` has hash `digest`; raises `OSError` when it cannot."""


class FileAnchor:
    """An append-only file: opened with `O_APPEND` (never truncated, never sought) and synced per line."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def write(self, seq: int, digest: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)  # no mkdir: a missing mount must fail
        try:
            os.write(fd, f"{seq} {digest}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"FileAnchor({str(self.path)!r})"


class _RaisingSysLogHandler(logging.handlers.SysLogHandler):
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        raise  # the default prints a traceback and carries on: an anchor that silently fails anchors nothing


class SyslogAnchor:
    """The system log (`/dev/log`) or a remote syslog server over UDP, via the standard library's handler."""

    def __init__(self, address: str | tuple[str, int] = "/dev/log", tcp: bool = False) -> None:
        self.address = address
        self.tcp = tcp

    def write(self, seq: int, digest: str) -> None:
        handler = _RaisingSysLogHandler(address=self.address, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV,
                                        socktype=socket.SOCK_STREAM if self.tcp else None)
        handler.append_nul = False  # a NUL after the message would end up in the exported line
        handler.setFormatter(logging.Formatter(f"{SYSLOG_TAG}: %(message)s"))
        try:
            handler.emit(logging.LogRecord(SYSLOG_TAG, logging.INFO, __file__, 0, f"{seq} {digest}", None, None))
        finally:
            handler.close()

    def __repr__(self) -> str:
        return f"SyslogAnchor({self.address!r}{', tcp' if self.tcp else ''})"


def anchor_from(spec: str | None) -> Anchor | None:
    """The sink a `PNEUMO_AUDIT_ANCHOR` value names (None for an empty one)."""
    if not spec:
        return None
    if spec == "syslog":
        return SyslogAnchor()
    if spec.startswith(("syslog://", "syslog+tcp://")):
        url = urlsplit(spec)
        if not url.hostname:
            raise ValueError(f"{ENV_ANCHOR}: no host in {spec!r}")
        return SyslogAnchor((url.hostname, url.port or 514), tcp=url.scheme == "syslog+tcp")
    return FileAnchor(Path(spec).expanduser().absolute())


def configured_anchor() -> Anchor | None:
    """The anchor the environment configures (read on each call, like the trail's path)."""
    return anchor_from(os.environ.get(ENV_ANCHOR))


def read_anchor(path: Path | str) -> Iterator[tuple[int, int, str]]:
    """(line number, seq, hash) for each anchor line in a file this program wrote, or in a syslog export
    of its lines; other lines (another program's syslog messages) are skipped."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            m = _ENTRY.match(line)
            if m:
                yield n, int(m.group(1)), m.group(2)
