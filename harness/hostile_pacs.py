"""A stub DICOMweb server that misbehaves the way a hostile or broken PACS would, one way per
`mode`:

- `foreign-uid`: every instance listing holds one instance whose SOP Instance UID climbs out of
  the WADO-RS path (`1.2.3/../../../../system`);
- `endless`: every page of an instance listing is full (as many new instances as asked for,
  `PAGE` when no limit is asked), so paging never ends;
- `huge`: every search answers `huge_mb` MB of DICOM JSON (generated as it is sent, with no
  Content-Length);
- `redirect`: a normal one-instance study whose WADO-RS answer is `302` to plain http on
  another loopback port (`HostilePacs.target_hits` counts the requests that reach it);
- `redirect-search`: every search answers `302` to that port;
- `trickle`: every answer, status line included, one byte a second; `trickle-headers`: the
  status line at once, the rest one byte a second; `trickle-body`: status line and headers at
  once, then a body with no Content-Length one byte a second; `trickle-wado`: a three-instance
  study whose every WADO-RS answer trickles from its first byte;
- `retry-after`: every answer is `503` with `Retry-After: 3600`.

Searches for a study answer that study (`STUDY_UID` by default), and the connection check's
`2.25.0` nothing, so the command line reaches the instance listing. `HostilePacs.sent` lists the
requests it received, as (method, path). Bound to 127.0.0.1 only; stopped when the context ends.
`run_measured` runs a command against it and reports its time and peak memory.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, Mapping, Sequence
from urllib.parse import parse_qs, urlparse

__all__ = ["HOSTILE_UID", "STUDY_UID", "PAGE", "MODES", "HostilePacs", "hostile_pacs", "Measured", "run_measured"]

HOSTILE_UID = "1.2.3/../../../../system"
STUDY_UID = "1.2.3"
PAGE = 1000  # a full page when the client asks for no limit
MODES = ("foreign-uid", "endless", "huge", "redirect", "redirect-search", "trickle", "trickle-headers",
         "trickle-body", "trickle-wado", "retry-after")
JSON = "application/dicom+json"


def _instance(study: str, series: str, sop: str) -> dict:
    return {"0020000D": {"vr": "UI", "Value": [study]}, "0020000E": {"vr": "UI", "Value": [series]},
            "00080018": {"vr": "UI", "Value": [sop]}, "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.1"]},
            "00080060": {"vr": "CS", "Value": ["CR"]}, "00180015": {"vr": "CS", "Value": ["CHEST"]},
            "00185101": {"vr": "CS", "Value": ["PA"]}}


class HostilePacs(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "foreign-uid"
    huge_mb = 330
    target = ""  # the other port's URL, for the redirects
    sent: list[tuple[str, str]] = []
    target_hits: list[str] = []
    stop = threading.Event()

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).sent.append(("GET", self.path))
        url = urlparse(self.path)
        query = parse_qs(url.query)
        parts = url.path.strip("/").split("/")  # dicom-web, studies[, uid, instances | series, s, instances, sop]
        wado = len(parts) == 7
        if self.mode.startswith("trickle") and (self.mode != "trickle-wado" or wado):
            return self._trickle()
        if self.mode == "retry-after":
            return self._answer(503, b"", extra={"Retry-After": "3600"})
        if self.mode == "redirect-search" or (self.mode == "redirect" and wado):
            return self._answer(302, b"", extra={"Location": f"{self.target}/steal?what={parts[-1]}"})
        if self.mode == "huge":
            return self._huge()
        if len(parts) == 2:  # a study search
            uid = query.get("StudyInstanceUID", [STUDY_UID])[0]
            found = [] if uid == "2.25.0" else [{"0020000D": {"vr": "UI", "Value": [uid]},
                                                 "00080061": {"vr": "CS", "Value": ["CR"]}}]
            return self._answer(200, json.dumps(found).encode())
        study = parts[2]
        offset = int(query.get("offset", ["0"])[0])
        if self.mode == "endless":
            n = int(query.get("limit", [str(PAGE)])[0])
            items = [_instance(study, "1.2.3.4", f"1.2.3.4.{offset + i + 1}") for i in range(n)]
        elif self.mode == "foreign-uid":
            items = [] if offset else [_instance(study, "1.2.3.4", HOSTILE_UID)]
        elif self.mode == "trickle-wado":
            items = [] if offset else [_instance(study, "1.2.3.4", f"1.2.3.4.{i}") for i in (5, 6, 7)]
        else:
            items = [] if offset else [_instance(study, "1.2.3.4", "1.2.3.4.5")]
        return self._answer(200, json.dumps(items).encode())

    def _answer(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _huge(self) -> None:
        """`huge_mb` MB of one instance repeated, sent as it is generated (never held here), with
        no Content-Length: only counting the bytes as they arrive can refuse it."""
        item = json.dumps(_instance(STUDY_UID, "1.2.3.4", "1.2.3.4.5")).encode() + b","
        block = item * ((1 << 20) // len(item))
        blocks = self.huge_mb * (1 << 20) // len(block)
        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"[")
            for _ in range(blocks):
                self.wfile.write(block)
            self.wfile.write(item[:-1] + b"]")
        except OSError:  # the client gave up: what it should do
            self.close_connection = True

    def _trickle(self) -> None:
        """A whole valid answer one byte a second, from the first byte, the headers or the body."""
        head = b"HTTP/1.1 200 OK\r\n"
        if self.mode == "trickle-body":
            head += b"Content-Type: " + JSON.encode() + b"\r\nConnection: close\r\n\r\n"
            rest = b"[" + b" " * 100 + b"]"
        else:
            rest = b"Content-Type: " + JSON.encode() + b"\r\nContent-Length: 2\r\n\r\n[]"
            if self.mode in ("trickle", "trickle-wado"):
                head, rest = b"", head + rest
        try:
            self.wfile.write(head)
            for i in range(len(rest)):
                if self.stop.wait(1.0):
                    break
                self.wfile.write(rest[i:i + 1])
        except OSError:
            pass
        self.close_connection = True

    def log_message(self, *args):
        pass


class _Target(BaseHTTPRequestHandler):
    """Where the redirects point: any request reaching it is one the client should not have sent."""

    def do_GET(self):  # noqa: N802
        HostilePacs.target_hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


class _Quiet(ThreadingHTTPServer):
    """A client that gives up mid-answer is what the attacks expect: no traceback for it."""

    def handle_error(self, request, client_address) -> None:
        pass


@contextmanager
def hostile_pacs(mode: str = "foreign-uid", huge_mb: int = 330) -> Iterator[str]:
    """The stub in `mode` on a free loopback port; yields its DICOMweb root URL
    (`http://127.0.0.1:PORT/dicom-web`)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
    target = _Quiet(("127.0.0.1", 0), _Target)
    HostilePacs.mode, HostilePacs.huge_mb = mode, huge_mb
    HostilePacs.target = f"http://127.0.0.1:{target.server_port}"
    HostilePacs.sent, HostilePacs.target_hits = [], []
    HostilePacs.stop = threading.Event()
    server = _Quiet(("127.0.0.1", 0), HostilePacs)
    for s in (server, target):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/dicom-web"
    finally:
        HostilePacs.stop.set()
        for s in (server, target):
            s.shutdown()
            s.server_close()


@dataclass(frozen=True)
class Measured:
    """A command run to its end (or killed at a limit): what it said, how long, its peak memory."""
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # the process's own peak resident memory (VmHWM, polled while it runs)
    killed: str = ""  # "" or why it was killed: "time" or "memory"


def _status_mb(pid: int, key: str = "VmRSS:") -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_measured(cmd: Sequence[str], env: Mapping[str, str], cwd: str | Path, limit_s: float = 120.0,
                 limit_mb: float = 4096.0) -> Measured:
    """Runs `cmd` and reports its peak memory, killing it past `limit_s` seconds or `limit_mb` MB
    resident, so an attack that works cannot take the machine down. The peak is the process's
    own high-water mark (VmHWM), polled: `wait4`'s ru_maxrss also counts the parent's size at
    the fork, so a large test runner made every command look as large as itself."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=dict(env), cwd=cwd)
        killed, peak = "", 0.0
        while True:
            peak = max(peak, _status_mb(proc.pid, "VmHWM:"))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > limit_s:
                killed = "time"
            elif _status_mb(proc.pid) > limit_mb:
                killed = "memory"
            if killed:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                        seconds, peak or usage.ru_maxrss / 1024, killed)
