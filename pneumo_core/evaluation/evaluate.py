"""Evaluation of a model on a labelled split: per-image predictions, metrics with
bootstrap CIs at the model's own (validation-chosen) thresholds, and curve points.

Nothing computed here feeds back into a model's thresholds, temperature or selection.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.dataset import CLASSES, Item, manifest_items, patient_id, scan_split
from ..inference.batch import ScoredBatch, score_batch
from ..inference.predictor import Predictor
from ..models.bundle import ModelBundle
from ..stats.metrics import curves, metrics_with_ci, per_class_metrics

__all__ = ["split_items", "evaluate", "evaluation_report", "predictions_for", "logits_for"]


def split_items(bundle: ModelBundle, data_root: str | Path, split: str) -> list[Item]:
    """`val` means the model's own validation set (from its split manifest, relative to
    the full dataset); any other name is a folder `data_root/split/{NORMAL,PNEUMONIA}`."""
    root = Path(data_root)
    manifest = bundle.directory / "split.json"
    if split == "val" and manifest.is_file():
        items = manifest_items(manifest, root)["val"]
        missing = [it.key for it in items if not it.path.is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} validation images missing under {root} (e.g. {missing[0]}); "
                                    "validation needs the full dataset")
        return items
    return scan_split(root, split)


def _scored(predictor: Predictor, items: list[Item], batch_size: int) -> ScoredBatch:
    from tqdm import tqdm
    with tqdm(total=len(items), desc="score", leave=False) as bar:
        batch = score_batch(predictor, [(it.path, it.key) for it in items], batch_size,
                            progress=lambda done, total: bar.update(1))
    if batch.failed:  # unreadable, or withheld by the input gate: no metric may skip a film silently
        name, reason = batch.failed[0]
        raise RuntimeError(f"{name}: {reason}")
    return batch


def predictions_for(predictor: Predictor, items: list[Item], batch_size: int = 64) -> np.ndarray:
    """The probability of every item (the site's, when the predictor has a profile)."""
    return _scored(predictor, items, batch_size).probabilities


def logits_for(predictor: Predictor, items: list[Item], batch_size: int = 64) -> np.ndarray:
    """The source-calibrated logit of every item (what a site profile recalibrates)."""
    return _scored(predictor, items, batch_size).logits


def evaluate(predictor: Predictor, data_root: str | Path, split: str = "test", n_boot: int = 1000) -> dict:
    """Scores a split with the predictor (and its site profile, if any) and reports on it."""
    items = split_items(predictor.bundle, data_root, split)
    default = (predictor.site.default_threshold if predictor.site is not None
               else predictor.bundle.meta.default_threshold)
    report = evaluation_report(predictor.name, predictor.bundle.meta.model_sha256, split, items,
                               predictions_for(predictor, items), predictor.thresholds, default, n_boot)
    return report if predictor.site is None else {**report, "site": predictor.site.name}


def evaluation_report(model: str, model_sha256: str, split: str, items: list[Item], probs: np.ndarray,
                      thresholds: dict[str, float], default_threshold: str, n_boot: int = 1000) -> dict:
    """Metrics with patient-bootstrap intervals at each named threshold, curves and per-film
    predictions: the one layout every evaluation artifact (eval_*.json, the site study's
    out-of-fold evaluation) shares, so the app reads them alike."""
    labels = np.array([it.label for it in items])
    patients = [f"{CLASSES[it.label]}:{patient_id(it.path.name)}" for it in items]
    probs = np.asarray(probs, dtype=np.float64)
    return {
        "model": model,
        "model_sha256": model_sha256,
        "split": split,
        "n": int(len(labels)),
        "counts": {c: int((labels == i).sum()) for i, c in enumerate(CLASSES)},
        "prevalence": float(labels.mean()),
        "default_threshold": default_threshold,
        "thresholds": thresholds,
        "bootstrap": f"{n_boot} resamples of whole patients ({len(set(patients))} in this split)",
        "metrics": {name: metrics_with_ci(labels, probs, t, n_boot=n_boot, groups=patients) for name, t in thresholds.items()},
        "per_class": {name: per_class_metrics(labels, probs, t) for name, t in thresholds.items()},
        "curves": curves(labels, probs),
        "predictions": [{"file": it.key, "label": CLASSES[it.label], "patient": g, "probability": float(p)}
                        for it, g, p in zip(items, patients, probs)],
    }
