"""The one rule for bytes from a user or a PACS: they are decoded in a worker process
(`decode_worker`) with a memory limit (RLIMIT_AS), a CPU limit (RLIMIT_CPU) and a wall-time
limit, so a decompression bomb or a decoder caught in a loop kills that worker, never the
server, and the user gets one line (`IngestError`) in our words. The next file gets a fresh
worker, so one hostile film does not lose the rest of a batch.

Workers are fresh interpreters that import only the decoders (no fork of a process that has
torch and threads loaded) and are kept between files: a decode costs a pipe round trip,
not a process start (`benchmarks/hostile_inputs.py` measures it). The pool holds at most
`budget.HEAVY_WORKERS` workers, the process-wide limit on concurrent decodes.

Training and evaluation on the shipped dataset call `ingest.load` in-process: those files
are ours, already checked, and the worker's round trip would only slow an epoch.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .budget import HEAVY_WORKERS
from .decode_worker import read_message, write_message
from .identity import FilmIdentity
from .ingest import Radiograph, read_source
from .limits import IngestError, check_unit
from .scan import DICOM_SUFFIXES

__all__ = ["DecodePool", "load_untrusted", "default_pool", "WORKER_MEMORY_BYTES", "WORKER_CPU_SECONDS",
           "WORKER_WALL_SECONDS"]

WORKER_MEMORY_BYTES = 3 * 2**30  # address space: a 50 MP 16-bit DICOM decodes in ~1.5 GB
WORKER_CPU_SECONDS = 20  # a 50 MP JPEG 2000 film decodes in a few seconds
WORKER_WALL_SECONDS = 60  # CPU limit plus time waiting for a core on a busy server
# The folder Python imported this package from (site-packages when installed, a checkout otherwise),
# first on the worker's path, so the worker runs this very code from whatever directory. Code, not
# product files: those are in the home (`io.home`).
_IMPORT_ROOT = str(Path(__file__).resolve().parents[2])


class _Gone(Exception):
    """The worker had already exited when a file was sent to it."""


class _Worker:
    def __init__(self, memory_bytes: int, cpu_seconds: int) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join([_IMPORT_ROOT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        self.proc = subprocess.Popen([sys.executable, "-m", "pneumo_core.io.decode_worker", str(memory_bytes),
                                      str(cpu_seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, close_fds=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for fh in (self.proc.stdin, self.proc.stdout):
            try:
                fh.close()
            except OSError:
                pass

    def decode(self, data: bytes, dicom_suffix: bool, wall_seconds: float) -> tuple[dict, bytearray] | None:
        """The worker's reply, or None when it died or ran out of time decoding; `_Gone` when
        it was dead before it got the file (not the file's fault)."""
        try:
            write_message(self.proc.stdin, {"dicom_suffix": dicom_suffix}, data)
        except OSError:  # BrokenPipeError included
            raise _Gone from None
        ready, _, _ = select.select([self.proc.stdout], [], [], wall_seconds)
        if not ready:
            return None
        try:
            return read_message(self.proc.stdout)  # the worker writes a reply whole once it starts
        except (OSError, ValueError):
            return None


class DecodePool:
    """Decoding workers, started on demand and reused; at most `workers` decode at once."""

    def __init__(self, workers: int = HEAVY_WORKERS, memory_bytes: int = WORKER_MEMORY_BYTES,
                 cpu_seconds: int = WORKER_CPU_SECONDS, wall_seconds: float = WORKER_WALL_SECONDS) -> None:
        self.memory_bytes, self.cpu_seconds, self.wall_seconds = memory_bytes, cpu_seconds, wall_seconds
        self._slots = threading.BoundedSemaphore(workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self.stopped = 0  # workers killed by a limit or a crash, for the benchmark and the tests

    def warm(self) -> None:
        """Start one worker now, so the first upload does not wait for the interpreter."""
        with self._lock:
            if not self._idle:
                self._idle.append(_Worker(self.memory_bytes, self.cpu_seconds))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.kill()

    def load(self, source: bytes | str | Path, name: str | None = None) -> Radiograph:
        """`ingest.load` in a worker: the same Radiograph, or one `IngestError` line."""
        data = read_source(source)  # size and file checks here: a path never reaches the worker
        dicom_suffix = (name or "").lower().endswith(DICOM_SUFFIXES)
        with self._slots:
            worker, started = self._take(), time.monotonic()
            try:
                reply = worker.decode(data, dicom_suffix, self.wall_seconds)
            except _Gone:  # an idle worker that died meanwhile: one retry in a fresh one
                worker.kill()
                worker, started = _Worker(self.memory_bytes, self.cpu_seconds), time.monotonic()
                try:
                    reply = worker.decode(data, dicom_suffix, self.wall_seconds)
                except _Gone:
                    reply = None
            if reply is None:
                timed_out = worker.alive() and time.monotonic() - started >= self.wall_seconds
                worker.kill()
                self.stopped += 1
                raise IngestError(self._stopped_message(worker.proc.returncode, timed_out))
            if worker.alive() and not reply[0].get("retire"):
                with self._lock:
                    self._idle.append(worker)
            else:
                worker.kill()
        return _radiograph(*reply)

    def _take(self) -> _Worker:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None or not worker.alive():
            if worker is not None:
                worker.kill()
            worker = _Worker(self.memory_bytes, self.cpu_seconds)
        return worker

    def _stopped_message(self, returncode: int | None, timed_out: bool) -> str:
        if timed_out or returncode == -signal.SIGXCPU:
            return (f"image refused: decoding it took longer than a radiograph should "
                    f"(limit {self.cpu_seconds} s of CPU, {self.wall_seconds:.0f} s in all)")
        return (f"image refused: decoding it needed more memory than a radiograph should "
                f"(limit {self.memory_bytes / 2**30:.1f} GB) or crashed the decoder")


def _radiograph(header: dict, payload: bytearray) -> Radiograph:
    """The worker's reply, trusted no further than its shape: a reply that does not parse, or
    pixels that are not finite values in [0, 1], are the file's error, not the server's."""
    if not header.get("ok"):
        raise IngestError(" ".join(str(header.get("error", "cannot decode image")).split())[:200])
    try:
        h, w = (int(v) for v in header["shape"])
        pixels = np.frombuffer(payload, dtype=np.float32, count=h * w).reshape(h, w)  # writable: a bytearray
        rad = Radiograph(pixels=pixels, source_format=str(header["format"]),
                         warnings=[str(x) for x in header["warnings"]],
                         metadata={str(k): str(v) for k, v in header["metadata"].items()},
                         colour_saturation=float(header["saturation"]),
                         identity=FilmIdentity.from_wire(header.get("identity")))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IngestError("image refused: the decoder's reply could not be read") from None
    check_unit(rad.pixels)
    return rad


_DEFAULT: DecodePool | None = None
_DEFAULT_LOCK = threading.Lock()


def default_pool() -> DecodePool:
    """The process-wide pool every caller of `load_untrusted` shares."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = DecodePool()
        return _DEFAULT


def load_untrusted(source: bytes | str | Path, name: str | None = None) -> Radiograph:
    """Decode a file from a user or a PACS in the process-wide worker pool (see the module's
    docstring); raises `IngestError` with one line for a bad or hostile file."""
    return default_pool().load(source, name)
