"""What the adaptation knows of the source: its prevalence (the class balance its posteriors
are calibrated at) and, for a label-shift corrected method, each adapted layer's per-class
moments on the training films (`class_moments.npz` in the model's bundle)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from ..calibration.site import SiteProfileError

if TYPE_CHECKING:
    from ..models.bundle import ModelBundle

__all__ = ["CLASS_MOMENTS", "SOURCE_SCORES", "source_prevalence", "load_class_moments", "save_class_moments",
           "measure_class_moments", "save_source_scores", "load_source_scores"]

CLASS_MOMENTS = "class_moments.npz"
_DEEPEST = 48  # moments for this many layers from the end: every candidate's (method.CANDIDATES)


def source_prevalence(bundle: ModelBundle) -> float:
    """The validation split's pneumonia share: the temperature was fitted at that balance."""
    c = bundle.meta.validation_counts
    return c["PNEUMONIA"] / (c["PNEUMONIA"] + c["NORMAL"])


def save_class_moments(moments: dict, directory: str | Path) -> Path:
    arrays = {f"{name}|{k}": v for name, d in moments.items() for k, v in d.items()}
    path = Path(directory) / CLASS_MOMENTS
    np.savez_compressed(path, **{k: v.astype(np.float32) for k, v in arrays.items()})
    return path


def load_class_moments(directory: str | Path) -> dict:
    path = Path(directory) / CLASS_MOMENTS
    if not path.is_file():
        raise SiteProfileError(f"this model has no {CLASS_MOMENTS}: run `python -m pneumo_core dev class-moments` first")
    out: dict = {}
    with np.load(path) as z:
        for key in z.files:
            name, k = key.split("|")
            out.setdefault(name, {})[k] = z[key].astype(np.float64)
    return out


def _batches(images: np.ndarray, labels: np.ndarray, spec, size: int = 32) -> Iterator:
    from ..data.preprocess import preprocess_batch
    for i in range(0, len(images), size):
        yield preprocess_batch(images[i:i + size], spec), labels[i:i + size]


def measure_class_moments(bundle: ModelBundle, images_u8: np.ndarray, labels: np.ndarray) -> dict:
    """Per-class moments of the inputs of the deepest candidate's layers, on labelled source
    films (the training split: what the moments were learnt from, and never a scored film)."""
    from .normalisation import adapted_layers, class_moments
    layers = adapted_layers(bundle.model, _DEEPEST)
    return class_moments(bundle.model, _batches(images_u8, np.asarray(labels), bundle.spec), layers)


SOURCE_SCORES = "source_scores.npz"


def save_source_scores(logits: np.ndarray, labels: np.ndarray, directory: str | Path) -> Path:
    """Each validation film's calibrated logit, by class: the source score distributions a
    label-free operating point moves to a site (`score_mixture.SourceScores`)."""
    s, y = np.asarray(logits, np.float64), np.asarray(labels, int)
    path = Path(directory) / SOURCE_SCORES
    np.savez_compressed(path, normal=np.sort(s[y == 0]), pneumonia=np.sort(s[y == 1]))
    return path


def load_source_scores(directory: str | Path):
    from .score_mixture import SourceScores
    path = Path(directory) / SOURCE_SCORES
    if not path.is_file():
        raise SiteProfileError(f"this model has no {SOURCE_SCORES}: run `python -m pneumo_core dev source-scores` first")
    with np.load(path) as z:
        return SourceScores(z["normal"], z["pneumonia"])
