"""Labelled films for a site sample, from the calibration page's uploaders: one uploader per
class, or zips with NORMAL/ and PNEUMONIA/ folders. Zips are read in memory with limits on
entries and uncompressed bytes (a zip bomb is refused, not expanded), and a film uploaded
twice counts once, or is refused when its two labels disagree."""
from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable, NamedTuple

from ...data.dataset import CLASSES
from ..reading.cases import content_digest

__all__ = ["LabelledUpload", "UploadRefused", "MAX_ZIP_MEMBERS", "MAX_ZIP_BYTES", "zip_directory", "read_zip", "gather"]

MAX_ZIP_MEMBERS = 3000           # entries of any kind; a site sample needs a few hundred films at most
MAX_ZIP_BYTES = 256 * 2**20      # uncompressed bytes of the films read from all zips together
_MAX_DIRECTORY_BYTES_PER_ENTRY = 46 + 1024  # a central-directory record with a long name and extras


class UploadRefused(ValueError):
    """Uploads that cannot make a site sample; the message is for the page's reader."""


class LabelledUpload(NamedTuple):
    key: str    # "NORMAL/<name>": the patient id comes from the name; hashed into the profile, never stored
    data: bytes
    label: int  # 0 NORMAL, 1 PNEUMONIA


def _zip_member_class(name: str) -> tuple[int, str] | None:
    """(label, key) for a member under NORMAL/ or PNEUMONIA/ (at the top, or inside the one
    folder a zipped folder adds); None for anything else, including odd paths."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    odd = any(p in ("..", "") or p.startswith((".", "__MACOSX")) for p in parts)
    if not parts or odd or name.startswith(("/", "\\")):
        return None
    for depth in (0, 1):
        if len(parts) > depth + 1 and parts[depth].upper() in CLASSES:
            return CLASSES.index(parts[depth].upper()), "/".join((parts[depth].upper(), *parts[depth + 1:]))
    return None


def zip_directory(data: bytes) -> tuple[int, int]:
    """(entries, central-directory bytes) from the zip's end record (Zip64 too), read from the
    last 64 kB: what `zipfile` would list is known before it lists anything."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or len(data) < at + 22:
        raise UploadRefused("not a readable zip file (no end record)")
    entries, size = struct.unpack_from("<HI", data, at + 10)
    if entries == 0xFFFF or size == 0xFFFFFFFF:  # Zip64: the locator just before points at the real counts
        loc = at - 20
        if loc < 0 or data[loc:loc + 4] != b"PK\x06\x07":
            raise UploadRefused("not a readable zip file (damaged Zip64 end record)")
        rec = struct.unpack_from("<Q", data, loc + 8)[0]
        if data[rec:rec + 4] != b"PK\x06\x06" or len(data) < rec + 56:
            raise UploadRefused("not a readable zip file (damaged Zip64 end record)")
        entries, size = struct.unpack_from("<QQ", data, rec + 32)
    return entries, size


def read_zip(data: bytes, max_members: int = MAX_ZIP_MEMBERS,
             max_bytes: int = MAX_ZIP_BYTES) -> tuple[list[LabelledUpload], list[str]]:
    """The films of a zip in NORMAL/ and PNEUMONIA/ layout, read in memory, and notes on what
    was left out. Refused before its directory is listed when its end record counts more than
    `max_members` entries (or a directory too big for its count), and before anything is
    decompressed when its films declare more than `max_bytes`; reads are bounded too, so a
    header that lies about a size cannot get past the cap."""
    entries, directory_bytes = zip_directory(data)
    if entries > max_members:
        raise UploadRefused(f"the zip holds {entries} entries; at most {max_members} are read")
    if directory_bytes > max(entries, 1) * _MAX_DIRECTORY_BYTES_PER_ENTRY:
        raise UploadRefused("not a readable zip file (its directory does not match its entry count)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UploadRefused(f"not a readable zip file ({type(exc).__name__})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise UploadRefused(f"the zip holds {len(infos)} entries; at most {max_members} are read")
        wanted, ignored = [], []
        for info in infos:
            if info.is_dir():
                continue
            where = _zip_member_class(info.filename)
            if where is None:
                ignored.append(info.filename)
            else:
                wanted.append((info, *where))
        declared = sum(info.file_size for info, _, _ in wanted)
        if declared > max_bytes:
            raise UploadRefused(f"the zip's films decompress to {declared / 2**20:.0f} MB; at most "
                                f"{max_bytes / 2**20:.0f} MB are read")
        out, notes, total = [], [], 0
        for info, label, key in wanted:
            try:
                with zf.open(info) as fh:
                    blob = fh.read(max_bytes - total + 1)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, ValueError) as exc:
                notes.append(f"{key}: not read from the zip ({type(exc).__name__})")  # its text may quote the zip
                continue
            total += len(blob)
            if total > max_bytes:
                raise UploadRefused(f"the zip's films decompress to more than {max_bytes / 2**20:.0f} MB")
            out.append(LabelledUpload(key, blob, label))
    if ignored:
        notes.append(f"{len(ignored)} zip entr{'y' if len(ignored) == 1 else 'ies'} outside NORMAL/ and PNEUMONIA/ "
                     "ignored")
    return out, notes


def gather(normal: Iterable | None, pneumonia: Iterable | None,
           zipped: Iterable | None = None) -> tuple[list[LabelledUpload], list[str]]:
    """One labelled list from the page's uploaders (objects with `.name` and `.getvalue()`).
    A film uploaded twice with one label counts once; with both labels it is refused."""
    files: list[LabelledUpload] = []
    for label, uploads in enumerate((normal, pneumonia)):
        files += [LabelledUpload(f"{CLASSES[label]}/{Path(u.name).name}", u.getvalue(), label) for u in uploads or []]
    notes, members, unzipped = [], 0, 0
    for z in zipped or []:  # the caps hold for all zips together: several large zips are one sample
        if members >= MAX_ZIP_MEMBERS or unzipped >= MAX_ZIP_BYTES:
            raise UploadRefused(f"the zips hold more than {MAX_ZIP_MEMBERS} films or {MAX_ZIP_BYTES / 2**20:.0f} MB "
                                "together; upload fewer")
        got, more = read_zip(z.getvalue(), MAX_ZIP_MEMBERS - members, MAX_ZIP_BYTES - unzipped)
        members, unzipped = members + len(got), unzipped + sum(len(f.data) for f in got)
        files += got
        notes += [f"{z.name}: {m}" for m in more]
    seen: dict[str, LabelledUpload] = {}
    kept = []
    for f in files:
        d = content_digest(f.data)
        if d in seen:
            if seen[d].label != f.label:
                raise UploadRefused(f"the same film is labelled both NORMAL and PNEUMONIA ({seen[d].key} and {f.key})")
            notes.append(f"{f.key}: the same film as {seen[d].key}, counted once")
            continue
        seen[d] = f
        kept.append(f)
    return kept, notes
