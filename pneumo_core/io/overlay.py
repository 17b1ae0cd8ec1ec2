"""The one heatmap overlay the product draws: the app, `predict --cam` and the PDF report
show the same picture.

The heatmap is resized to the radiograph (preprocessing squashed it without a crop). What
it explains decides how it is drawn, because red on a film reads as a finding:
- a map explaining PNEUMONIA is coloured with the jet map; each pixel's colour weight is
  opacity x heat, the heat measured from the map's own minimum and transparent below
  `TRANSPARENT_BELOW` of its range, so the map's weak cells leave the film as it is and
  unhighlighted lung stays a plain radiograph instead of disappearing under a blue wash;
- a map explaining NORMAL is never coloured: only the outline of its top fifth (the region
  the heatmap's check fills in) is drawn, in a neutral blue-grey, over the untinted film.
A map that failed its check (`reporting.region_check`) is drawn at `DIMMED` of its weight.
Numpy and Pillow only, so the app's pure modules can use it without OpenCV or matplotlib.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["jet", "render_overlay", "overlay_legend", "top_region", "NEUTRAL_RGB", "DIMMED", "OUTLINE_FRACTION",
           "TRANSPARENT_BELOW"]

NEUTRAL_RGB = (112, 150, 190)  # blue-grey: visible on a film, unlike any colour of a finding
DIMMED = 0.3  # weight kept by a map that failed its check
OUTLINE_FRACTION = 0.2  # the share of the map outlined on a NORMAL call: the region the check fills
# heat (from the map's minimum, as a share of its range) below which a PNEUMONIA map is not drawn:
# most of a map's cells sit below a tenth of its maximum, and tinted they wash the whole film
TRANSPARENT_BELOW = 0.1

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


def overlay_legend(target_class: str, fraction: float = OUTLINE_FRACTION, class_specific: bool = True) -> str:
    """How the overlay drawn for `target_class` reads, for the caption beside it (a map that
    explains no class is drawn by the call too, but supports nothing)."""
    if target_class == "NORMAL":
        support = ", where the model found most support for NORMAL" if class_specific else ""
        return f"blue-grey outline: the map's top {fraction:.0%}{support}; not a finding"
    return f"red: strongest, untinted: its faintest {TRANSPARENT_BELOW:.0%} of range"  # the floor is over min..max


def top_region(heatmap: np.ndarray, fraction: float = OUTLINE_FRACTION) -> np.ndarray:
    """The `fraction` of the map's pixels it ranks highest, ties in raster order: the same
    region `inference.occlusion.top_mask` fills for the check (torch-free here)."""
    heat = np.asarray(heatmap, dtype=np.float32)
    mask = np.zeros(heat.size, dtype=bool)
    mask[np.argsort(-heat.ravel(), kind="stable")[:int(round(fraction * heat.size))]] = True
    return mask.reshape(heat.shape)


def _outline(region: np.ndarray, h: int, w: int) -> np.ndarray:
    """The region's border at the image's size, about 0.4% of its shorter side thick."""
    big = np.asarray(Image.fromarray(region.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)) > 127
    edge = np.zeros_like(big)
    for _ in range(max(1, round(min(h, w) / 250))):
        inner = big.copy()
        inner[1:] &= big[:-1]
        inner[:-1] &= big[1:]
        inner[:, 1:] &= big[:, :-1]
        inner[:, :-1] &= big[:, 1:]
        edge |= big & ~inner
        big = inner
    return edge


def _from_floor(heatmap: np.ndarray) -> np.ndarray:
    """The map rescaled so its minimum is 0 and its maximum 1 (all 0 when flat): a map scaled
    to its own maximum need not reach 0, and its floor would otherwise tint the whole film."""
    heat = np.asarray(heatmap, np.float32)
    low, span = float(heat.min()), float(np.ptp(heat))
    return (heat - low) / span if span > 0 else np.zeros_like(heat)


def _weight(heat: np.ndarray) -> np.ndarray:
    """Colour weight per pixel from the rescaled heat: 0 up to `TRANSPARENT_BELOW`, rising to 1
    at the map's maximum, so the long faint tail of a map leaves the film untinted."""
    return np.clip((heat - TRANSPARENT_BELOW) / (1.0 - TRANSPARENT_BELOW), 0.0, 1.0)


def render_overlay(image: np.ndarray, heatmap: np.ndarray, opacity: float, target_class: str = "PNEUMONIA",
                   dimmed: bool = False) -> np.ndarray:
    """Relative heatmap over a grayscale image (uint8, or float in [0, 1]); RGB uint8 at the
    image's size. Drawn as the module docstring says for `target_class`, at `DIMMED` of its
    weight when `dimmed`."""
    img = np.asarray(image)
    base = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else np.clip(img.astype(np.float32), 0.0, 1.0)
    h, w = base.shape[:2]
    weight = float(np.clip(opacity, 0.0, 1.0)) * (DIMMED if dimmed else 1.0)
    rgb = np.repeat(base[..., None], 3, axis=2)
    if target_class == "NORMAL":
        edge = _outline(top_region(heatmap), h, w) if weight > 0 and np.ptp(heatmap) > 0 else np.zeros((h, w), bool)
        alpha = min(1.0, 2 * weight) * edge[..., None]  # a thin line needs more weight than a wash to be seen
        colour = np.asarray(NEUTRAL_RGB, np.float32) / 255.0
        return np.clip(np.rint((rgb * (1 - alpha) + colour * alpha) * 255), 0, 255).astype(np.uint8)
    heat = np.asarray(Image.fromarray(_from_floor(heatmap), mode="F").resize((w, h), Image.BILINEAR))
    heat = np.clip(heat, 0.0, 1.0)
    alpha = weight * _weight(heat)[..., None]
    return np.clip(np.rint((rgb * (1 - alpha) + jet(heat) * alpha) * 255), 0, 255).astype(np.uint8)
