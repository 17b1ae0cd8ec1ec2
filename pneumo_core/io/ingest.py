"""Decode whatever a user or a folder hands us into one grayscale radiograph.

Every path into the product (training, evaluation, CLI, app) goes through `load`, so
an image is decoded the same way everywhere; bytes from a user or a PACS reach it inside a
worker process (`sandbox.load_untrusted`), so a decoder's bomb cannot take the server down. Failures raise `IngestError` with a
one-line reason a clinician can read; it never echoes file names or DICOM values,
because either may carry patient identity. Nothing is written to disk and no PIL
or pydicom global setting is changed (the app decodes in several threads).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dicom import decode_dicom
from .identity import FilmIdentity
from .limits import (BLANK_WARNING, COLOUR_WARN_LEVEL, COLOUR_WARNING, MAX_ASPECT, MAX_FILE_BYTES, MIN_SIDE,
                     DecodeMemoryError, IngestError, check_unit)
from .pictures import colour_saturation, decode_picture
from .scan import DICOM_SUFFIXES

__all__ = ["IngestError", "Radiograph", "colour_saturation", "load", "read_source", "COLOUR_WARNING", "BLANK_WARNING",
           "COLOUR_WARN_LEVEL"]

_NOT_IMAGES = (  # (offset, magic, message): only used to word the error
    (0, b"%PDF", "not an image: looks like a PDF document"),
    (0, b"PK\x03\x04", "not an image: looks like a ZIP archive or Office document"),
    (0, b"\xd0\xcf\x11\xe0", "not an image: looks like an old Office document"),
    (0, b"\x1f\x8b", "not an image: looks like a gzip archive"),
    (0, b"\x7fELF", "not an image: looks like a program"),
    (0, b"MZ", "not an image: looks like a Windows program"),
    (4, b"ftypheic", "unsupported image format: HEIC photo; export it as JPEG or PNG"),
    (4, b"ftypavif", "unsupported image format: AVIF; export it as JPEG or PNG"),
    (4, b"ftyp", "not an image: looks like a video"),
    (0, b"GIF8", "unsupported image format: GIF; save it as PNG or JPEG"),
)


@dataclass
class Radiograph:
    pixels: np.ndarray  # float32, HxW, in [0, 1], bone bright
    source_format: str  # "JPEG", "PNG", "DICOM", ...
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)  # non-identifying fields only
    colour_saturation: float = 0.0  # measured before the grey conversion; 0.0 for grey sources
    identity: FilmIdentity | None = None  # a DICOM's patient and study fields: for the screen only, apart from metadata


def load(source: bytes | str | Path, name: str | None = None) -> Radiograph:
    """Decode `source` (file contents, or a path) into a Radiograph.

    `name` is only a hint (a `.dcm` suffix allows DICOM without its 128-byte preamble);
    it is never opened, so bytes from an upload cannot reach the file system.
    """
    data = read_source(source)
    warnings: list[str] = []
    metadata: dict[str, str] = {}
    identity: FilmIdentity | None = None
    measured: dict[str, float] = {}  # facts lost in the grey conversion, kept for the OOD checks
    try:
        if data[128:132] == b"DICM":
            fmt, pixels, metadata, identity = "DICOM", *decode_dicom(data, warnings, force=False)
        else:
            fmt, pixels = decode_picture(data, warnings, measured)
            if pixels is None:  # PIL does not know it: DICOM without preamble, or junk
                _raise_if_known_non_image(data)
                if not (data[:2] in (b"\x02\x00", b"\x08\x00")
                        or (name or "").lower().endswith(DICOM_SUFFIXES)):
                    raise IngestError("not an image: unrecognised file type")
                fmt, pixels, metadata, identity = "DICOM", *decode_dicom(data, warnings, force=True)
    except IngestError:
        raise
    except MemoryError:
        raise DecodeMemoryError() from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input
        raise IngestError(f"cannot decode image ({type(exc).__name__})") from exc
    check_unit(pixels)  # the promise to the model side: finite, in [0, 1], whatever the decoder did
    _check_geometry(pixels, warnings)
    return Radiograph(pixels=pixels, source_format=fmt, warnings=warnings, metadata=metadata,
                      colour_saturation=measured.get("colour_saturation", 0.0), identity=identity)


# --- reading -----------------------------------------------------------------------
def read_source(source: bytes | bytearray | memoryview | str | Path) -> bytes:
    """The file's bytes, never more than `MAX_FILE_BYTES` of them read: a file over the limit
    is refused from its size, and one that grows while it is read stops one byte past it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            data = _read_bounded(Path(source))
        except OSError as exc:  # the path itself is not repeated: it may name the patient
            raise IngestError(f"cannot read file ({type(exc).__name__})") from None
    if not data:
        raise IngestError("empty file (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(_TOO_LARGE)
    return data


_TOO_LARGE = f"file too large (limit is {MAX_FILE_BYTES // 2**20} MB)"


def _read_bounded(path: Path) -> bytes:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat on the open file, so the
    # checks and the read are about the same file
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # devices and pipes report size 0 and never end
            raise IngestError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise IngestError(_TOO_LARGE)
        return _read_up_to(fh, info.st_size)


def _read_up_to(fh, size: int) -> bytes:
    """The `size` bytes fstat announced in one read; then, if the file grew (or announced
    nothing, as /proc does), 1 MB at a time until one byte past the limit."""
    parts = [fh.read(size + 1)]
    got = len(parts[0])
    while got <= MAX_FILE_BYTES and (more := fh.read(min(2**20, MAX_FILE_BYTES + 1 - got))):
        parts.append(more)
        got += len(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _raise_if_known_non_image(data: bytes) -> None:
    """Name what the file is, so the user knows they picked the wrong one."""
    for offset, magic, message in _NOT_IMAGES:
        if data[offset:offset + len(magic)] == magic:
            raise IngestError(message)
    head = data[:2048]
    if not any(b < 9 or 13 < b < 32 for b in head):  # no control bytes: text
        low = head.lstrip().lower()
        what = ("an SVG drawing" if b"<svg" in low else
                "a web page (HTML)" if low.startswith((b"<!doctype html", b"<html")) else
                "a text file")
        raise IngestError(f"not an image: looks like {what}")


def _check_geometry(pixels: np.ndarray, warnings: list[str]) -> None:
    h, w = pixels.shape
    if min(h, w) < MIN_SIDE:
        raise IngestError(f"image too small to judge ({w}x{h}; need at least {MIN_SIDE} px a side)")
    if max(h, w) / min(h, w) > MAX_ASPECT:
        warnings.append(f"unusual shape ({w}x{h}); a chest radiograph is roughly square")
    if float(pixels.max() - pixels.min()) < 1 / 255:
        warnings.append(BLANK_WARNING)
