"""Orientation and polarity: was this film turned by a multiple of 90 degrees, or saved as a
negative, before it reached us? If so, undo it before scoring, or withhold the call.

A small multinomial logistic regression on the model's own penultimate features predicts
which of 8 transforms (`TRANSFORMS`: 4 rotations x normal/inverted grey levels) was applied
to an upright film: self-supervised rotation prediction (Gidaris et al., ICLR 2018), fitted
by `pneumo_core.training.orientation` on training films and tuned on validation films only.

The decision for one film (`assess_batch`): predict on the film as given. Upright (the
head's most likely class) -> score it as given. Otherwise, when the head's probability
reaches the confidence level stored with it (set on validation), undo that transform,
extract features again and confirm the corrected film is predicted upright -> "corrected",
with a warning that says what was done. Not confident, or not confirmed -> "withheld".
The confirmation costs one extra forward pass, only for films the head thinks are turned,
and turns most wrong guesses (90 read as 270) into a withheld call instead of a wrong one.

Transforms act on the last two axes, so they apply alike to one film (H, W), a batch
(B, H, W), uint8 (inverted as 255 - x) or float in [0, 1] (inverted as 1 - x).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import PneumoError
from ..models.metadata import read_metadata

__all__ = ["Transform", "TRANSFORMS", "UPRIGHT", "apply", "undo", "compose_undo", "OrientationHead",
           "OrientationError", "Assessment", "assess_batch", "assess_orientation",
           "WITHHELD_REASON", "HEAD_FILE", "RECORD_FILE"]

HEAD_FILE = "orientation.npz"
RECORD_FILE = "orientation.json"
WITHHELD_REASON = "orientation or grey levels could not be determined"

FeaturesFn = Callable[[np.ndarray], np.ndarray]  # uint8 (B, S, S) -> features (B, D)


@dataclass(frozen=True)
class Transform:
    """What was done to an upright film: `turns_cw` quarter turns clockwise, then the grey
    levels inverted when `inverted`. `correction` says what undoing it does."""
    index: int
    turns_cw: int
    inverted: bool

    @property
    def name(self) -> str:
        turn = ("", "rotated 90° clockwise", "rotated 180°", "rotated 90° counter-clockwise")[self.turns_cw]
        parts = [p for p in (turn, "grey levels inverted" if self.inverted else "") if p]
        return ", ".join(parts) or "upright"

    @property
    def correction(self) -> str:
        """What undoing it does, as the warning words it ('' for upright)."""
        turn = ("", "rotated 90° counter-clockwise to upright", "rotated 180° to upright",
                "rotated 90° clockwise to upright")[self.turns_cw]
        return ", ".join(p for p in (turn, "grey levels inverted" if self.inverted else "") if p)

    @property
    def warning(self) -> str:
        return f"corrected before scoring: {self.correction}" if self.index else ""


# index = turns_cw + 4 * inverted
TRANSFORMS: tuple[Transform, ...] = tuple(Transform(r + 4 * v, r, bool(v)) for v in (0, 1) for r in range(4))
UPRIGHT = TRANSFORMS[0]


def _invert(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return 255 - a
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"orientation transforms take uint8 or float images in [0, 1], not {a.dtype}")
    return (1.0 - a).astype(a.dtype)


def apply(image: np.ndarray, index: int) -> np.ndarray:
    """Turn an upright image (H, W) or batch (B, H, W) into transform `index`."""
    t = TRANSFORMS[index]
    out = np.rot90(np.asarray(image), -t.turns_cw, axes=(-2, -1))  # negative k: clockwise
    return np.ascontiguousarray(_invert(out) if t.inverted else out)


def undo(image: np.ndarray, index: int) -> np.ndarray:
    """The upright image, given one that had transform `index` applied."""
    t = TRANSFORMS[index]
    a = _invert(image) if t.inverted else np.asarray(image)
    return np.ascontiguousarray(np.rot90(a, t.turns_cw, axes=(-2, -1)))


def compose_undo(actual: int, guessed: int) -> int:
    """Transform left on a film that had `actual` applied after undoing `guessed`
    (rotations and inversion commute, so the group is Z4 x Z2)."""
    a, g = TRANSFORMS[actual], TRANSFORMS[guessed]
    return (a.turns_cw - g.turns_cw) % 4 + 4 * (a.inverted ^ g.inverted)


class OrientationError(PneumoError, RuntimeError):
    """An orientation head that does not belong to the model beside it."""


@dataclass(frozen=True)
class OrientationHead:
    mean: np.ndarray       # (D,) feature standardisation, from training features
    scale: np.ndarray      # (D,)
    coef: np.ndarray       # (8, D) multinomial logistic regression on standardised features
    intercept: np.ndarray  # (8,)
    confidence: float      # attempt a correction only at or above this probability (set on validation)
    model_sha256: str      # the weights whose features it reads

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, D) features -> (N, 8) probabilities over `TRANSFORMS`."""
        z = ((np.asarray(features, np.float64) - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(most likely transform index, its probability), one each per film."""
        p = self.probabilities(features)
        idx = p.argmax(axis=1)
        return idx, p[np.arange(len(p)), idx]

    def save(self, model_dir: str | Path, record: dict) -> None:
        d = Path(model_dir)
        np.savez_compressed(d / HEAD_FILE, mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                            coef=self.coef.astype(np.float32), intercept=self.intercept.astype(np.float32),
                            confidence=np.float64(self.confidence), model_sha256=np.str_(self.model_sha256))
        (d / RECORD_FILE).write_text(json.dumps(dict(record, model_sha256=self.model_sha256,
                                                     confidence=self.confidence), indent=2) + "\n")

    @classmethod
    def load(cls, model_dir: str | Path) -> "OrientationHead | None":
        """The head beside a model's weights; None when there is none.

        Raises:
            OrientationError: the head was fitted on other weights than `model_dir/model.json`
                records (its features would mean nothing to it).
        """
        d = Path(model_dir)
        if not (d / HEAD_FILE).is_file():
            return None
        with np.load(d / HEAD_FILE) as z:
            head = cls(z["mean"].astype(np.float64), z["scale"].astype(np.float64), z["coef"].astype(np.float64),
                       z["intercept"].astype(np.float64), float(z["confidence"]), str(z["model_sha256"]))
        model_json = d / "model.json"
        expected = read_metadata(model_json).model_sha256 if model_json.is_file() else None
        if expected != head.model_sha256:
            raise OrientationError(f"{d / HEAD_FILE} was fitted on other weights (sha256 {head.model_sha256[:12]}... "
                                   f"!= {str(expected)[:12]}...); refit it with python -m pneumo_core.training.orientation")
        return head


@dataclass
class Assessment:
    status: str                 # "upright" | "corrected" | "withheld"
    transform: int              # the head's reading of the film as given (index into TRANSFORMS)
    probability: float          # the head's probability for it
    warning: str | None = None  # what was corrected, for "corrected"
    reason: str | None = None   # why, for "withheld" (WITHHELD_REASON)
    corrected_pixels: np.ndarray | None = None  # the upright uint8 film, for "corrected"
    corrected_features: np.ndarray | None = None  # its features, so the caller need not extract them again

    @property
    def transform_name(self) -> str:
        return TRANSFORMS[self.transform].name


def assess_batch(head: OrientationHead, images_u8: np.ndarray, features_fn: FeaturesFn,
                 features: np.ndarray | None = None) -> list[Assessment]:
    """Decide, film by film, whether to score as given, correct, or withhold.

    Args:
        head: the model's orientation head.
        images_u8: (B, S, S) uint8 films at the model's input size, as the predictor feeds them.
        features_fn: the model's penultimate features of a uint8 batch (e.g. `Predictor.features`).
        features: the films' features when the caller already has them (saves a forward pass).

    Returns:
        One `Assessment` per film; a "corrected" one carries the upright film and its features.
    """
    images_u8 = np.asarray(images_u8)
    if len(images_u8) == 0:
        return []
    feats = features_fn(images_u8) if features is None else np.asarray(features)
    idx, prob = head.predict(feats)
    out = [Assessment("upright" if i == 0 else "withheld", int(i), float(p),
                      reason=None if i == 0 else WITHHELD_REASON) for i, p in zip(idx, prob)]
    tried = [k for k, (i, p) in enumerate(zip(idx, prob)) if i != 0 and p >= head.confidence]
    if tried:
        fixed = np.stack([undo(images_u8[k], int(idx[k])) for k in tried])
        fixed_feats = features_fn(fixed)
        again, _ = head.predict(fixed_feats)
        for j, k in enumerate(tried):
            if again[j] == 0:
                a = out[k]
                a.status, a.reason = "corrected", None
                a.warning = TRANSFORMS[a.transform].warning
                a.corrected_pixels, a.corrected_features = fixed[j], fixed_feats[j]
    return out


def assess_orientation(head: OrientationHead, image_u8: np.ndarray, features_fn: FeaturesFn,
                       features: np.ndarray | None = None) -> Assessment:
    """`assess_batch` for one (S, S) film (and optionally its (D,) features)."""
    return assess_batch(head, np.asarray(image_u8)[None], features_fn,
                        None if features is None else np.asarray(features)[None])[0]
