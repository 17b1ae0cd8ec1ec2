"""A site's labelled sample: which files, which label, which patient, and the model's logit
for each (scored by `inference.batch.score_batch`). Files that cannot be read are listed and
skipped, never dropped silently."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.dataset import CLASSES, patient_id
from ..io.scan import scan_paths
from .site import SiteProfileError

if TYPE_CHECKING:
    from ..inference.batch import ScoredBatch

__all__ = ["LabelledFile", "ScoredSample", "read_labelled"]

_LABELS = {"normal": 0, "0": 0, "pneumonia": 1, "1": 1}


@dataclass(frozen=True)
class LabelledFile:
    source: Path | bytes  # a file, or an upload's bytes
    label: int            # 0 NORMAL, 1 PNEUMONIA
    key: str              # path relative to the folder or CSV it came from (or upload name): hashed, never stored

    @property
    def patient(self) -> str:
        """Class-prefixed: the dataset's NORMAL and PNEUMONIA ids are separate namespaces."""
        return f"{CLASSES[self.label]}:{patient_id(Path(self.key).name)}"


@dataclass
class ScoredSample:
    files: list[LabelledFile]
    logits: np.ndarray               # source-calibrated logit per readable file
    features: np.ndarray             # penultimate features per readable file
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    @property
    def labels(self) -> np.ndarray:
        return np.array([f.label for f in self.files], dtype=int)

    @property
    def patients(self) -> list[str]:
        return [f.patient for f in self.files]

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.files]

    @classmethod
    def from_batch(cls, files: list[LabelledFile], batch: ScoredBatch) -> "ScoredSample":
        """The labelled files `inference.batch.score_batch` scored, with its logits and features."""
        return cls([files[i] for i in batch.kept], batch.logits, batch.features, list(batch.failed))


def _from_folder(root: Path) -> tuple[list[LabelledFile], list[str]]:
    if not any((root / c).is_dir() for c in CLASSES):
        raise SiteProfileError(f"{root}: a labelled folder needs NORMAL/ and PNEUMONIA/ subfolders")
    out, notes = [], []
    for label, cls in enumerate(CLASSES):
        if not (root / cls).is_dir():
            notes.append(f"warning: {root}: no {cls}/ subfolder")
            continue
        files, more = scan_paths([root / cls])
        notes += more
        out += [LabelledFile(f, label, f.relative_to(root).as_posix()) for f in files]
    return out, notes


def _from_csv(path: Path) -> tuple[list[LabelledFile], list[str]]:
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SiteProfileError(f"{path}: cannot read the CSV ({type(exc).__name__})") from None
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise SiteProfileError(f"{path}: a labelled CSV needs the columns file,label")
    out = []
    for i, row in enumerate(rows, start=2):
        label = _LABELS.get(str(row["label"]).strip().lower())
        if label is None:
            raise SiteProfileError(f"{path}, line {i}: label must be NORMAL or PNEUMONIA (or 0/1), not {row['label']!r}")
        f = Path(row["file"])
        out.append(LabelledFile(f if f.is_absolute() else path.parent / f, label, row["file"]))
    return out, []


def read_labelled(sources: list[Path]) -> tuple[list[LabelledFile], list[str]]:
    """Folders with NORMAL/ and PNEUMONIA/ subfolders (scanned like `predict` scans) or CSVs
    with columns `file,label` (paths relative to the CSV); returns the files and notes."""
    files, notes = [], []
    for src in sources:
        if src.is_dir():
            got, more = _from_folder(src)
        elif src.suffix.lower() == ".csv" and src.is_file():
            got, more = _from_csv(src)
        else:
            raise SiteProfileError(f"{src}: not a folder with NORMAL/ and PNEUMONIA/ subfolders, nor a CSV file")
        files += got
        notes += more
    return files, notes
