"""The Kaggle folder layout, patient ids, and a patient-grouped validation split.

The official `val` split has 16 images, so validation is carved out of `train`,
keeping every patient (and every listed duplicate group) on one side.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.home import home
from ..io.scan import SCANNED_SUFFIXES
from ..stats.decision import CLASSES

__all__ = ["CLASSES", "Item", "scan_split", "class_counts", "patient_id", "patient_groups", "grouped_split",
           "duplicates_file", "SHIPPED_DUPLICATES", "read_duplicate_groups", "manifest_hash", "manifest_items"]


_PATIENT_PATTERNS = [
    re.compile(r"^(person\d+)_(?:bacteria|virus)_\d+", re.I),  # PNEUMONIA
    re.compile(r"^(NORMAL2-IM-\d+)-\d+", re.I),                 # NORMAL, second series
    re.compile(r"^(IM-\d+)-\d+", re.I),                         # NORMAL, first series
]


@dataclass(frozen=True)
class Item:
    path: Path
    label: int  # 0 NORMAL, 1 PNEUMONIA

    @property
    def key(self) -> str:
        """split/CLASS/file: stable across machines, used in manifests and duplicate lists."""
        return "/".join(self.path.parts[-3:])


def patient_id(filename: str) -> str:
    """`person12_bacteria_45.jpeg` -> `person12`; `IM-0115-0001.jpeg` -> `IM-0115`.
    Unknown names fall back to the file stem, i.e. a patient of their own."""
    stem = Path(filename).name
    for pattern in _PATIENT_PATTERNS:
        m = pattern.match(stem)
        if m:
            return m.group(1)
    return Path(stem).stem


def scan_split(root: str | Path, split: str) -> list[Item]:
    base = Path(root) / split
    if not base.is_dir():
        raise FileNotFoundError(f"no {split!r} split under {root} (expected {base}/NORMAL and {base}/PNEUMONIA)")
    items = [Item(p, label) for label, cls in enumerate(CLASSES)
             for p in sorted((base / cls).glob("*")) if p.suffix.lower() in SCANNED_SUFFIXES]
    if not items:
        raise FileNotFoundError(f"no images in {base}")
    return items


def class_counts(items: list[Item]) -> dict[str, int]:
    return {cls: sum(1 for it in items if it.label == i) for i, cls in enumerate(CLASSES)}


# The dataset's list of files that show the same image under different names, shipped with the
# repo because the Kaggle copy lacks it; a list beside the dataset takes precedence.
SHIPPED_DUPLICATES = home() / "data" / "chest_xray_duplicates.txt"


def duplicates_file(data_root: str | Path) -> Path:
    beside = Path(data_root).parent / "chest_xray_duplicates.txt"
    return beside if beside.is_file() else SHIPPED_DUPLICATES


def read_duplicate_groups(path: str | Path | None) -> list[list[str]]:
    """Lines of `chest_xray_duplicates.txt`: `similarity key key [key ...]`."""
    if path is None or not Path(path).is_file():
        return []
    groups = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            groups.append(parts[1:])
    return groups


def patient_groups(items: list[Item], duplicate_groups: list[list[str]]) -> dict[str, str]:
    """Union-find over patients, joined wherever a duplicate group spans two patients."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    by_key = {it.key: f"{it.label}:{patient_id(it.path.name)}" for it in items}
    for it in items:
        find(by_key[it.key])
    for group in duplicate_groups:
        members = [by_key[k] for k in group if k in by_key]
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    return {k: find(g) for k, g in by_key.items()}


def grouped_split(items: list[Item], val_fraction: float, seed: int,
                  duplicate_groups: list[list[str]] | None = None) -> tuple[list[Item], list[Item]]:
    """Class-stratified split by patient group: within each class, whole groups go to
    validation (in a seeded random order) until it holds `val_fraction` of that class."""
    group = patient_groups(items, duplicate_groups or [])
    rng = random.Random(seed)
    val_groups: set[str] = set()
    for label in range(len(CLASSES)):
        members: dict[str, int] = {}
        for it in items:
            if it.label == label:
                members[group[it.key]] = members.get(group[it.key], 0) + 1
        order = sorted(members)
        rng.shuffle(order)
        target, taken = val_fraction * sum(members.values()), 0
        for g in order:
            if taken >= target:
                break
            val_groups.add(g)
            taken += members[g]
    train = [it for it in items if group[it.key] not in val_groups]
    val = [it for it in items if group[it.key] in val_groups]
    return train, val


def manifest_hash(manifest: dict) -> str:
    """sha256 of the manifest as canonical JSON (sorted keys, default separators), so the
    hash names the split, not the formatting of split.json."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _decode_resized(args: tuple[str, int]) -> np.ndarray:
    from ..io.ingest import load
    from .preprocess import resize_square
    path, size = args
    return resize_square(load(path).pixels, size)


def load_resized(items: list[Item], size: int, workers: int = 0) -> np.ndarray:
    """Decode and resize every image once (uint8, N x size x size): the training cache.
    Goes through the same ingest and resize as prediction."""
    import os
    from multiprocessing import get_context

    from tqdm import tqdm

    jobs = [(str(it.path), size) for it in items]
    n = workers or os.cpu_count() or 1
    out = np.empty((len(jobs), size, size), dtype=np.uint8)
    progress = dict(total=len(jobs), desc=f"decode {size}px", leave=False)
    if n == 1:  # no pool to start for one worker
        for i, arr in enumerate(tqdm(map(_decode_resized, jobs), **progress)):
            out[i] = arr
        return out
    with get_context("spawn").Pool(n) as pool:
        for i, arr in enumerate(tqdm(pool.imap(_decode_resized, jobs, chunksize=32), **progress)):
            out[i] = arr
    return out


def manifest_items(manifest: str | Path, data_root: str | Path) -> dict[str, list[Item]]:
    """A model's own train and validation items from its split manifest (`split.json`, keys
    relative to the full dataset): the one reader of that file."""
    keys = json.loads(Path(manifest).read_text())
    root = Path(data_root)
    return {side: [Item(root / k, CLASSES.index(Path(k).parent.name)) for k in keys[side]] for side in ("train", "val")}
