"""Burned-in markers and text on a film (laterality letters, "A-P", "PORTABLE"), and the film's
body region: what the shortcut check (`inference.shortcut`) asks of a heatmap, after Zech et
al. 2018 and DeGrave et al. 2021, who found radiograph classifiers that learnt such markers.

Classic image processing, explainable step by step, on the uint8 model input (the map's own
grid); sizes are given at 224 px and scaled with the film:
- a marker is printed, not imaged: small, much brighter than what lies just around it, with
  sharp edges. A white top-hat (the film less its grey opening by a square larger than a
  letter) keeps such detail and drops the broad body; pixels at least `MIN_CONTRAST` above
  their opened surround and `MIN_BRIGHT` bright are candidates, joined by a small closing
  into glyphs;
- a candidate is kept when it is letter-sized (`MIN_SIDE`..`MAX_SIDE` px, at least
  `MIN_AREA` px), has a printed stroke (somewhere `MIN_STROKE` above a 3x3 opening: a stroke
  is 1-2 px wide, a rib's or clavicle's edge is wider and most of those are longer than a
  letter too) and lies in the film's outer band (`BAND` of the side from the left, right or
  top edge), where the radiographer prints it. Electrodes and clips pass these tests too:
  they are the detector's usual false finds.
- the body region (`body_mask`) is the film's largest region brighter than its background
  (a smoothed film over half Otsu's threshold, holes filled): the patient, neck and arms
  included. It stands in for "the chest": a region outside it lies on the background.
Measured against hand-marked validation films in `docs/saliency.md`
(`benchmarks/marker_study.py`, labels in `data/marker_labels_val.json`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["Marker", "detect_markers", "marker_mask", "body_mask", "MIN_CONTRAST", "MIN_BRIGHT", "MIN_STROKE", "BAND"]

REFERENCE_SIDE = 224  # the sizes below are in pixels of a 224-px film
OPENING = 13  # px: wider than a letter's stroke and most letters, narrower than the body's structures
MIN_CONTRAST = 60  # grey levels above the opened surround
MIN_BRIGHT = 110  # grey levels: printed markers are bright (some are printed in grey, not white)
MIN_STROKE = 90  # grey levels a stroke stands above a 3x3 opening: printed strokes are 1-2 px wide, bone edges wider
MIN_SIDE, MAX_SIDE, MIN_AREA = 3, 26, 8  # px: a letter's bounding box and its printed pixels
BAND = 0.22  # share of the side from the left, right and top edges where a marker is looked for


@dataclass(frozen=True)
class Marker:
    """One detected marker: its bounding box (rows top..bottom, columns left..right, end
    exclusive) and its printed pixels' contrast above the surround."""
    top: int
    left: int
    bottom: int
    right: int
    contrast: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.top, self.left, self.bottom, self.right


def _uint8(film: np.ndarray) -> np.ndarray:
    a = np.asarray(film)
    if a.ndim != 2:
        raise ValueError(f"expected a grayscale HxW film, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    return np.clip(np.rint(a.astype(np.float32) * 255), 0, 255).astype(np.uint8)


def _in_band(box: tuple[int, int, int, int], shape: tuple[int, int]) -> bool:
    top, left, bottom, right = box
    h, w = shape
    return left < BAND * w or right > (1 - BAND) * w or top < BAND * h


def detect_markers(film: np.ndarray) -> list[Marker]:
    """The burned-in markers of a grayscale film (uint8, or float in [0, 1]), as the module
    docstring says, largest contrast first."""
    u = _uint8(film)
    scale = min(u.shape) / REFERENCE_SIDE
    k = max(3, int(round(OPENING * scale)) | 1)
    tophat = u.astype(np.int16) - ndi.grey_opening(u, size=(k, k)).astype(np.int16)
    stroke = u.astype(np.int16) - ndi.grey_opening(u, size=(3, 3)).astype(np.int16)
    candidate = (tophat >= MIN_CONTRAST) & (u >= MIN_BRIGHT)
    glyphs, n = ndi.label(ndi.binary_closing(candidate, np.ones((3, 3), bool)) | candidate, np.ones((3, 3), int))
    found = []
    for index, sl in enumerate(ndi.find_objects(glyphs), start=1):
        if sl is None:
            continue
        box = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
        sides = (box[2] - box[0], box[3] - box[1])
        pixels = (glyphs[sl] == index) & candidate[sl]
        if not (MIN_SIDE * scale <= min(sides) and max(sides) <= MAX_SIDE * scale):
            continue
        if pixels.sum() < MIN_AREA * scale ** 2 or not _in_band(box, u.shape) or stroke[sl].max() < MIN_STROKE:
            continue
        found.append(Marker(*box, contrast=float(tophat[sl][pixels].mean())))
    return sorted(found, key=lambda m: -m.contrast)


def marker_mask(shape: tuple[int, int], markers: list[Marker], margin: int = 2) -> np.ndarray:
    """Bool mask of the markers' boxes, each grown by `margin` px (what the infill replaces)."""
    mask = np.zeros(shape, dtype=bool)
    for m in markers:
        mask[max(0, m.top - margin):m.bottom + margin, max(0, m.left - margin):m.right + margin] = True
    return mask


def _otsu(values: np.ndarray) -> float:
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    omega, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    between = (mu[-1] * omega - mu) ** 2 / np.maximum(omega * (1 - omega), 1e-12)
    return float(np.argmax(between))


def body_mask(film: np.ndarray) -> np.ndarray:
    """Bool mask of the body: the largest region of the smoothed film over Otsu's threshold,
    holes filled (the patient, neck and arms; the dark background and what is printed on it
    are outside)."""
    u = _uint8(film)
    smooth = ndi.uniform_filter(u, size=max(3, int(round(9 * min(u.shape) / REFERENCE_SIDE))))
    bright = smooth > _otsu(smooth) / 2  # half Otsu's: aerated lung is darker than soft tissue, not than air
    regions, n = ndi.label(bright)
    if n == 0:
        return np.ones(u.shape, dtype=bool)
    largest = 1 + int(np.argmax(ndi.sum_labels(bright, regions, index=np.arange(1, n + 1))))
    return ndi.binary_fill_holes(regions == largest)
