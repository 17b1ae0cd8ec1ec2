"""Evaluation of a model on a labelled split: per-image predictions, metrics with
bootstrap CIs at the model's own (validation-chosen) thresholds, and curve points.

The test split is read here and nowhere else; nothing computed here feeds back into
a model's thresholds, temperature or selection.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .artifacts import ModelBundle
from .data import CLASSES, Item, patient_id, scan_split
from .metrics import curves, metrics_with_ci, per_class_metrics
from .predictor import Predictor

__all__ = ["split_items", "evaluate", "predictions_for"]


def split_items(bundle: ModelBundle, data_root: str | Path, split: str) -> list[Item]:
    """`val` means the model's own validation set (from its split manifest, relative to
    the full dataset); any other name is a folder `data_root/split/{NORMAL,PNEUMONIA}`."""
    root = Path(data_root)
    manifest = bundle.directory / "split.json"
    if split == "val" and manifest.is_file():
        keys = json.loads(manifest.read_text())["val"]
        missing = [k for k in keys if not (root / k).is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} validation images missing under {root} (e.g. {missing[0]}); "
                                    "validation needs the full dataset")
        return [Item(root / k, CLASSES.index(Path(k).parent.name)) for k in keys]
    return scan_split(root, split)


def predictions_for(predictor: Predictor, items: list[Item], batch_size: int = 64) -> np.ndarray:
    from tqdm import tqdm
    probs = []
    for p in tqdm(predictor.predict_sources(((it.path, it.key) for it in items), threshold=0.5, batch_size=batch_size),
                  total=len(items), desc="evaluate", leave=False):
        if p.error:
            raise RuntimeError(f"{p.file}: {p.error}")
        probs.append(p.probability)
    return np.asarray(probs, dtype=np.float64)


def evaluate(predictor: Predictor, data_root: str | Path, split: str = "test", n_boot: int = 1000) -> dict:
    items = split_items(predictor.bundle, data_root, split)
    labels = np.array([it.label for it in items])
    patients = [f"{CLASSES[it.label]}:{patient_id(it.path.name)}" for it in items]
    probs = predictions_for(predictor, items)
    thresholds = predictor.bundle.thresholds
    default = predictor.bundle.meta.get("default_threshold", "balanced")
    return {
        "model": predictor.name,
        "model_sha256": predictor.bundle.meta["model_sha256"],
        "split": split,
        "n": int(len(labels)),
        "counts": {c: int((labels == i).sum()) for i, c in enumerate(CLASSES)},
        "prevalence": float(labels.mean()),
        "default_threshold": default,
        "thresholds": thresholds,
        "bootstrap": f"{n_boot} resamples of whole patients ({len(set(patients))} in this split)",
        "metrics": {name: metrics_with_ci(labels, probs, t, n_boot=n_boot, groups=patients) for name, t in thresholds.items()},
        "per_class": {name: per_class_metrics(labels, probs, t) for name, t in thresholds.items()},
        "curves": curves(labels, probs),
        "predictions": [{"file": it.key, "label": CLASSES[it.label], "patient": g, "probability": float(p)}
                        for it, g, p in zip(items, patients, probs)],
    }
