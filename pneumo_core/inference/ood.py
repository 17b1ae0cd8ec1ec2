"""Out-of-distribution score: Mahalanobis distance of the model's penultimate features
to the training features (Lee et al. 2018), in a PCA subspace so the stored statistics
stay small, and the residual outside that subspace. Each term is flagged above its own
99.5th percentile on validation, so about 1% of in-distribution images are flagged by
construction.

Beside the learned score, `IMAGE_CHECKS` are cheap tests for pictures that are plainly
not radiographs whatever their features say (colour, posterised drawings/text/masks).
Each is a callable `Radiograph -> reason | None`, so the predictor can add or drop one
without flags; each threshold is set from what a radiograph is, not tuned on data.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..io.header_policy import HEADER_PREFIX
from ..io.ingest import BLANK_WARNING, COLOUR_WARN_LEVEL, COLOUR_WARNING, Radiograph

__all__ = ["OODModel", "fit_ood", "ood_record", "ImageCheck", "IMAGE_CHECKS", "colour_check", "posterised_check",
           "grey_level_concentration", "image_check_reasons"]

# A radiograph is continuous-tone: even windowed to 8 bits its histogram spreads over most
# of the 256 levels. When 16 levels (a 4-bit picture) hold 90% of the pixels it is a
# drawing, text, a mask, a logo or a blank field. (The 624 official test radiographs peak
# at 0.40: checked, not tuned.)
POSTERISED_LEVELS = 16
POSTERISED_SHARE = 0.90
POSTERISED_WARNING = "image has very few grey levels (a drawing, text or a mask?); radiographs are continuous-tone"


@dataclass
class OODModel:
    mean: np.ndarray        # (D,)
    components: np.ndarray  # (K, D): PCA basis
    inv_var: np.ndarray     # (K,): 1 / variance along each component
    residual_scale: float   # mean squared norm of the training residual outside the subspace
    threshold: float        # combined score's validation percentile (used when term thresholds are absent)
    # Each term's own validation percentile. Averaged into one score, the residual (one
    # number) drowns among 64 subspace terms, so an image that leaves the training
    # subspace altogether could pass; judged on its own it is the sharpest test we have.
    term_thresholds: tuple[float, float] | None = None

    def terms(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(root-mean Mahalanobis distance inside the subspace, normalised residual outside it)."""
        x = np.asarray(features, dtype=np.float64) - self.mean
        z = x @ self.components.T
        inside = (z * z * self.inv_var).sum(axis=1)
        residual = ((x - z @ self.components) ** 2).sum(axis=1) / self.residual_scale
        return np.sqrt(inside / len(self.inv_var)), np.sqrt(residual)

    def score(self, features: np.ndarray) -> np.ndarray:
        """One number per image for display: both terms, pooled."""
        inside, residual = self.terms(features)
        k = len(self.inv_var)
        return np.sqrt((inside ** 2 * k + residual ** 2) / (k + 1))

    def flags(self, features: np.ndarray) -> np.ndarray:
        if self.term_thresholds is None:
            return self.score(features) > self.threshold
        inside, residual = self.terms(features)
        return (inside > self.term_thresholds[0]) | (residual > self.term_thresholds[1])

    def save(self, path: str | Path) -> None:
        extra = {} if self.term_thresholds is None else {"term_thresholds": np.asarray(self.term_thresholds, np.float64)}
        np.savez_compressed(path, mean=self.mean.astype(np.float32), components=self.components.astype(np.float32),
                            inv_var=self.inv_var.astype(np.float32),
                            residual_scale=np.float64(self.residual_scale), threshold=np.float64(self.threshold), **extra)

    @classmethod
    def load(cls, path: str | Path) -> "OODModel":
        with np.load(path) as z:
            terms = tuple(float(v) for v in z["term_thresholds"]) if "term_thresholds" in z else None
            return cls(z["mean"].astype(np.float64), z["components"].astype(np.float64),
                       z["inv_var"].astype(np.float64), float(z["residual_scale"]), float(z["threshold"]), terms)


def ood_record(ood: OODModel) -> dict:
    """model.json's words for how the flag is computed. The statistics and both thresholds
    live in ood.npz only, so the record cannot disagree with what the predictor loads."""
    return {"method": f"Mahalanobis distance of penultimate features in a {len(ood.inv_var)}-dim PCA subspace, "
                      "and the residual outside it",
            "threshold_rule": "flag when either term exceeds its 99.5th percentile on validation",
            "statistics": "ood.npz"}


def fit_ood(train_features: np.ndarray, val_features: np.ndarray, n_components: int = 64,
            quantile: float = 0.99, term_quantile: float = 0.995) -> OODModel:
    """Statistics from training features; thresholds from validation features only. Each
    term at its 99.5th percentile keeps the flagged share of validation near 1%."""
    x = np.asarray(train_features, dtype=np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(n_components, vt.shape[0])
    var = (s[:k] ** 2) / max(len(x) - 1, 1) + 1e-6 * (s[0] ** 2) / max(len(x) - 1, 1)
    resid = (x - mean) - ((x - mean) @ vt[:k].T) @ vt[:k]
    residual_scale = float((resid ** 2).sum(axis=1).mean()) + 1e-12
    model = OODModel(mean, vt[:k], 1.0 / var, residual_scale, threshold=np.inf)
    model.threshold = float(np.quantile(model.score(val_features), quantile))
    inside, residual = model.terms(val_features)
    model.term_thresholds = (float(np.quantile(inside, term_quantile)), float(np.quantile(residual, term_quantile)))
    return model


ImageCheck = Callable[[Radiograph], "str | None"]


def colour_check(radiograph: Radiograph) -> str | None:
    """A radiograph has no colour; ingest measured it before converting to grey."""
    return COLOUR_WARNING if radiograph.colour_saturation > COLOUR_WARN_LEVEL else None


def grey_level_concentration(pixels: np.ndarray, levels: int = POSTERISED_LEVELS) -> float:
    """Share of pixels in the `levels` most frequent of 256 grey levels (1.0 for a blank image).

    Big images are subsampled to about 1 MP, as `colour_saturation` does.
    """
    a = np.asarray(pixels)
    step = max(1, int(np.sqrt(a.size / 1e6)))
    # ingest refuses NaN and infinity; should one come anyway, it counts as black, never as a negative bin
    a = np.nan_to_num(np.asarray(a[::step, ::step], np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    q = np.clip(np.rint(a * 255.0), 0, 255).astype(np.int64).ravel()
    if q.size == 0:
        return 1.0
    hist = np.bincount(q, minlength=256)
    return float(np.sort(hist)[::-1][:levels].sum() / q.size)


def posterised_check(radiograph: Radiograph) -> str | None:
    if grey_level_concentration(radiograph.pixels) <= POSTERISED_SHARE:
        return None
    blank = float(radiograph.pixels.max() - radiograph.pixels.min()) < 1 / 255
    return BLANK_WARNING if blank else POSTERISED_WARNING  # ingest already words the blank case


def header_check(radiograph: Radiograph) -> str | None:
    """A DICOM header that names another modality, body part or view (`io.header_policy`, the
    policy uploads and PACS instances share): the decoder said so among its warnings."""
    return next((w for w in radiograph.warnings if w.startswith(HEADER_PREFIX)), None)


IMAGE_CHECKS: tuple[ImageCheck, ...] = (colour_check, posterised_check, header_check)


def image_check_reasons(radiograph: Radiograph, checks: tuple[ImageCheck, ...] = IMAGE_CHECKS) -> list[str]:
    """One-line reasons this picture is plainly not a radiograph; empty when none applies."""
    return [reason for check in checks if (reason := check(radiograph)) is not None]
