"""The one decision rule every caller shares (predictor, metrics, app, reports): PNEUMONIA is
called when the probability is at or above the threshold. At exactly the threshold the call is
PNEUMONIA: a tie goes to the finding, not to a miss."""
from __future__ import annotations

import numpy as np

__all__ = ["CLASSES", "calls_pneumonia", "call_label"]

CLASSES = ("NORMAL", "PNEUMONIA")  # label index = position; 1 = pneumonia


def calls_pneumonia(probs: np.ndarray | float, threshold: float) -> np.ndarray:
    """Boolean call per probability (an array, or a 0-d array for one value)."""
    return np.asarray(probs, dtype=float) >= threshold


def call_label(probability: float, threshold: float) -> str:
    return CLASSES[int(calls_pneumonia(probability, threshold))]
