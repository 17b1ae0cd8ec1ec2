"""The decode worker: a separate Python process that turns untrusted bytes into a radiograph
under its own memory and CPU limits, so a decompression bomb or a decoder stuck in a loop
ends this process, never the server (`sandbox` starts and talks to it).

It is a fresh interpreter (`python -m pneumo_core.io.decode_worker`), not a fork of the
server: it inherits none of the server's threads, locks or torch state, and imports only the
decoders. It writes nothing to stderr (a decoder's message may quote the file), and reads
each request whole before decoding, so the parent's write never blocks on a busy worker.

Wire format, both ways: 4-byte header length, 8-byte payload length (big-endian), a JSON
header, the payload. Request payload: the file's bytes. Reply payload: float32 pixels. JSON,
not pickle, so a worker subverted by a hostile file cannot run code in the server.
"""
from __future__ import annotations

import json
import os
import struct
import sys
from typing import BinaryIO

__all__ = ["write_message", "read_message", "main"]

_FRAME = struct.Struct(">IQ")
_RETIRE_RSS = 160 * 2**20  # ~3x a fresh worker: one that kept this much after a big film makes way


def write_message(fh: BinaryIO, header: dict, payload: bytes | memoryview = b"") -> None:
    head = json.dumps(header).encode()
    fh.write(_FRAME.pack(len(head), len(payload)))
    fh.write(head)
    fh.write(payload)
    fh.flush()


def read_message(fh: BinaryIO) -> tuple[dict, bytearray] | None:
    """(header, payload), or None at end of input. The payload is a bytearray, so pixels
    can be used where they land (writable, no copy of a film that may be 200 MB)."""
    frame = fh.read(_FRAME.size)
    if len(frame) < _FRAME.size:
        return None
    head_len, payload_len = _FRAME.unpack(frame)
    head = fh.read(head_len)
    payload = bytearray(payload_len)
    if len(head) < head_len or fh.readinto(payload) < payload_len:
        return None
    return json.loads(head), payload


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    """Address space for the whole process; CPU seconds from now (moved forward per request).
    Where the OS has no such limits (Windows; macOS ignores RLIMIT_AS) the worker still keeps
    a crash out of the server, and the parent's wall-time limit still holds."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = int(used.ru_utime + used.ru_stime) + 1
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, hard))
    except (ImportError, ValueError, OSError):
        pass


def _decode(request: dict, data: bytes) -> tuple[dict, bytes]:
    import warnings

    import numpy as np

    from .ingest import IngestError, load
    from .limits import DecodeMemoryError
    try:
        with warnings.catch_warnings():  # pydicom's and Pillow's warnings quote header values
            warnings.simplefilter("ignore")
            rad = load(data, name="upload.dcm" if request.get("dicom_suffix") else None)
    except IngestError as exc:  # after a memory error the heap may be fragmented: retire
        return {"ok": False, "error": str(exc), "retire": isinstance(exc, DecodeMemoryError)}, b""
    except MemoryError:
        return {"ok": False, "error": str(DecodeMemoryError()), "retire": True}, b""
    pixels = np.ascontiguousarray(rad.pixels, dtype=np.float32)
    return ({"ok": True, "format": rad.source_format, "warnings": rad.warnings, "metadata": rad.metadata,
             "saturation": rad.colour_saturation, "shape": list(pixels.shape),
             "identity": rad.identity.to_wire() if rad.identity else None}, memoryview(pixels).cast("B"))


def main() -> None:
    memory_bytes, cpu_seconds = int(sys.argv[1]), int(sys.argv[2])
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # C decoders print to fd 2; their text may quote the file
    import logging
    logging.getLogger("pydicom").disabled = True
    from . import ingest  # noqa: F401 - import the decoders before the limit is set
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = open(os.devnull, "w")  # nothing but replies reaches the parent's pipe
    while (message := read_message(stdin)) is not None:
        _limit(memory_bytes, cpu_seconds)
        header, payload = _decode(*message)
        if _rss() - len(payload) > _RETIRE_RSS:  # after a huge film: make way for a fresh worker
            header["retire"] = True
        write_message(stdout, header, payload)
        if header.get("retire"):
            return
        del header, payload  # not held while waiting for the next file


def _rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


if __name__ == "__main__":
    main()
