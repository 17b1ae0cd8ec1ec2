"""The one heatmap overlay the product draws: the app, `predict --cam` and the PDF report
show the same picture.

The heatmap is resized to the radiograph (preprocessing squashed it without a crop) and
coloured with the jet map; each pixel's colour weight is opacity x heat, so unhighlighted
lung stays a plain radiograph instead of disappearing under a blue wash. Numpy and Pillow
only, so the app's pure modules can use it without OpenCV or matplotlib.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["jet", "render_overlay"]

# matplotlib's "jet" as (position, value) knots per channel
_JET = {
    "r": ((0.0, 0.35, 0.66, 0.89, 1.0), (0.0, 0.0, 1.0, 1.0, 0.5)),
    "g": ((0.0, 0.125, 0.375, 0.64, 0.91, 1.0), (0.0, 0.0, 1.0, 1.0, 0.0, 0.0)),
    "b": ((0.0, 0.11, 0.34, 0.65, 1.0), (0.5, 1.0, 1.0, 0.0, 0.0)),
}


def jet(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> RGB floats in [0, 1] (shape + (3,))."""
    v = np.clip(np.asarray(values, np.float32), 0.0, 1.0)
    return np.stack([np.interp(v, *_JET[c]).astype(np.float32) for c in "rgb"], axis=-1)


def render_overlay(image: np.ndarray, heatmap: np.ndarray, opacity: float) -> np.ndarray:
    """Relative heatmap over a grayscale image (uint8, or float in [0, 1]); RGB uint8 at the
    image's size."""
    img = np.asarray(image)
    base = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else np.clip(img.astype(np.float32), 0.0, 1.0)
    h, w = base.shape[:2]
    heat = np.asarray(Image.fromarray(np.asarray(heatmap, np.float32), mode="F").resize((w, h), Image.BILINEAR))
    heat = np.clip(heat, 0.0, 1.0)
    alpha = float(np.clip(opacity, 0.0, 1.0)) * heat[..., None]
    rgb = np.repeat(base[..., None], 3, axis=2)
    return np.clip(np.rint((rgb * (1 - alpha) + jet(heat) * alpha) * 255), 0, 255).astype(np.uint8)
