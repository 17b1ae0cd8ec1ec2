"""Which files a folder scan hands to the model: one rule for `predict`, `drift` and the
labelled samples of `calibrate-site`. A file named explicitly is always tried, whatever its
name (extension-less DICOM included); a folder contributes only files with an image suffix,
and says what it passed over, so nothing is dropped without a word."""
from __future__ import annotations

from pathlib import Path

__all__ = ["DICOM_SUFFIXES", "PICTURE_SUFFIXES", "SCANNED_SUFFIXES", "scan_paths"]

DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")  # what ingest decodes with Pillow
SCANNED_SUFFIXES = frozenset(DICOM_SUFFIXES + PICTURE_SUFFIXES)


def scan_paths(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files to score, in order, and notes for stderr about what folders passed over."""
    files, notes = [], []
    for p in paths:
        if not p.is_dir():
            files.append(p)  # a missing file still gets its own error line
            continue
        found = skipped = 0
        for f in sorted(p.rglob("*")):
            if not f.is_file() or any(part.startswith(".") for part in f.relative_to(p).parts):
                continue
            if f.suffix.lower() in SCANNED_SUFFIXES:
                files.append(f)
                found += 1
            else:
                skipped += 1
        if skipped:
            notes.append(f"note: {p}: skipped {skipped} file(s) without an image extension; name a file to try it anyway "
                         "(e.g. extension-less DICOM)")
        if not found:
            notes.append(f"warning: {p}: no image files found")
    return files, notes
