"""Many films through the predictor, keeping what the calibration, the drift alarm and the
evaluation need (logit, probability, penultimate features) and the films that got no score,
by name and reason. One loop, so every consumer scores through the product's own path
(decoding, input gate, site profile) and none drops a film silently."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from .predictor import Predictor

__all__ = ["ScoredBatch", "score_batch"]


@dataclass
class ScoredBatch:
    logits: np.ndarray         # (k,) source-calibrated logit of each scored film
    probabilities: np.ndarray  # (k,) the predictor's probability (its site profile's, if it has one)
    features: np.ndarray       # (k, D) penultimate features
    kept: np.ndarray           # (k,) indices of the scored films among the sources
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason): unreadable or withheld

    def __len__(self) -> int:
        return len(self.kept)


def score_batch(predictor: Predictor, sources: Sequence[tuple[bytes | str | Path, str]], batch_size: int = 32,
                progress: Callable[[int, int], None] | None = None) -> ScoredBatch:
    """Scores `(path_or_bytes, name)` sources; `progress(done, total)` after each film."""
    logits, probs, features, kept, failed = [], [], [], [], []
    for i, pred in enumerate(predictor.predict_sources(iter(sources), 0.5, batch_size=batch_size)):
        if pred.probability is None:  # unreadable, or not a film the model can assess
            failed.append((pred.file, pred.unscored_reason))
        else:
            logits.append(float(pred.logit))
            probs.append(float(pred.probability))
            features.append(np.asarray(pred.features, np.float32))
            kept.append(i)
        if progress is not None:
            progress(i + 1, len(sources))
    dim = features[0].shape[0] if features else 0
    return ScoredBatch(np.asarray(logits, np.float64), np.asarray(probs, np.float64),
                       np.stack(features) if features else np.empty((0, dim), np.float32),
                       np.asarray(kept, int), failed)
