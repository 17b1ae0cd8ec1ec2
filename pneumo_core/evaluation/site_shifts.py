"""Simulated acquisition shifts: what another site's acquisition could do to a film (an
image shift) or to the model's scores (a score shift), simulated on validation films so that
a choice about shift is made without the test split. A shift is neither a site nor a site
profile (docs/glossary.md); `SITE_SHIFTS` and the `site_*` combinations keep their names
because the studies' recorded rules and JSON quote them.

The mild shifts of `robustness.CORRUPTIONS` barely move this model's scores (its clean
validation AUC is above 0.999). A new site moves them: other exposure curves and processing
(equalisation, edge enhancement), other detectors (noise, resolution, compression), other
collimation and borders, burned-in markers and text. Each image shift is deterministic
(same film, same result) and acts on [0, 1] films (B, 1, H, W); two combinations stand for
an acquisition that differs in several ways at once. `SITE_SHIFTS` (image shifts) and
`SCORE_SHIFTS` are what the label-free operating point is chosen under
(`evaluation.threshold_study`).
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..data.augment import adjust_gamma, gaussian_blur
from .robustness import CORRUPTIONS, contrast_change as _contrast, gaussian_noise

__all__ = ["SITE_SHIFTS", "SCORE_SHIFTS", "Shift", "ScoreShift"]

Shift = Callable[[torch.Tensor], torch.Tensor]  # an image shift: [0, 1] films (B, 1, H, W) in, the same out


def _noise(x: torch.Tensor, sd: float) -> torch.Tensor:
    return gaussian_noise(x, sd, seed=1)


def _resolution(x: torch.Tensor, factor: float) -> torch.Tensor:
    size = x.shape[-1]
    small = F.interpolate(x, scale_factor=factor, mode="bilinear", antialias=True)
    return F.interpolate(small, size=(size, size), mode="bilinear").clamp(0, 1)


def _sharpen(x: torch.Tensor, amount: float, sigma: float = 2.0) -> torch.Tensor:
    """Unsharp masking, the edge enhancement many CR/DR consoles apply by default."""
    blurred = gaussian_blur(x, torch.full((x.shape[0],), sigma), radius=int(3 * sigma))
    return (x + amount * (x - blurred)).clamp(0, 1)


def _equalise(x: torch.Tensor) -> torch.Tensor:
    """Per-film histogram equalisation: a processing look some sites' viewers store."""
    out = torch.empty_like(x)
    for i, film in enumerate(x):
        v = film.flatten()
        ranks = torch.empty_like(v)
        ranks[v.argsort()] = torch.linspace(0, 1, v.numel(), dtype=v.dtype)
        out[i] = ranks.view_as(film)
    return out


def _collimation(x: torch.Tensor, margin: float) -> torch.Tensor:
    """The outer `margin` of each side blacked out, as a tighter collimator leaves it."""
    size = x.shape[-1]
    k = int(round(margin * size))
    y = torch.zeros_like(x)
    y[..., k:size - k, k:size - k] = x[..., k:size - k, k:size - k]
    return y


def _frame(x: torch.Tensor, scale: float) -> torch.Tensor:
    """The film shrunk into a black frame: a wider field of view, borders around the chest."""
    size = x.shape[-1]
    inner = int(round(scale * size))
    small = F.interpolate(x, size=(inner, inner), mode="bilinear", antialias=True)
    y = torch.zeros_like(x)
    o = (size - inner) // 2
    y[..., o:o + inner, o:o + inner] = small
    return y.clamp(0, 1)


def _markers(x: torch.Tensor) -> torch.Tensor:
    """A burned-in laterality letter at the top left and a line of text at the bottom, white
    on the film (the markers and annotations radiograph classifiers are known to learn:
    Zech et al. 2018)."""
    size = x.shape[-1]
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    s = max(size // 224, 1)
    draw.rectangle([12 * s, 12 * s, 34 * s, 40 * s], outline=255, width=2 * s)
    draw.line([17 * s, 16 * s, 17 * s, 36 * s], fill=255, width=3 * s)      # an "R" drawn with strokes
    draw.arc([15 * s, 15 * s, 31 * s, 27 * s], -90, 90, fill=255, width=3 * s)
    draw.line([20 * s, 26 * s, 30 * s, 36 * s], fill=255, width=3 * s)
    for j in range(9):  # a row of blocky characters: "PORTABLE SUPINE"-like text
        draw.rectangle([(60 + 12 * j) * s, 200 * s, (68 + 12 * j) * s, 212 * s], fill=255)
    m = torch.from_numpy(np.asarray(mask, np.float32) / 255.0).to(x)
    return torch.maximum(x, m.expand_as(x))


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    out = torch.empty_like(x)
    for i, film in enumerate(x):
        buf = io.BytesIO()
        Image.fromarray((film[0].numpy() * 255).round().astype(np.uint8)).save(buf, "JPEG", quality=quality)
        buf.seek(0)
        out[i, 0] = torch.from_numpy(np.asarray(Image.open(buf), np.float32) / 255.0)
    return out


SITE_SHIFTS: dict[str, Shift] = {
    **CORRUPTIONS,
    "resolution_0.5": lambda x: _resolution(x, 0.5),
    "gamma_0.5": lambda x: adjust_gamma(x, torch.full((x.shape[0],), 0.5)),
    "gamma_2.0": lambda x: adjust_gamma(x, torch.full((x.shape[0],), 2.0)),
    "contrast_0.5": lambda x: _contrast(x, 0.5),
    "contrast_1.5": lambda x: _contrast(x, 1.5),
    "brightness_-0.1": lambda x: (x - 0.1).clamp(0, 1),
    "noise_0.08": lambda x: _noise(x, 0.08),
    "blur_2.0": lambda x: gaussian_blur(x, torch.full((x.shape[0],), 2.0), radius=6),
    "resolution_0.25": lambda x: _resolution(x, 0.25),
    "jpeg_15": lambda x: _jpeg(x, 15),
    "sharpen_1.5": lambda x: _sharpen(x, 1.5),
    "equalise": _equalise,
    "collimation_0.1": lambda x: _collimation(x, 0.1),
    "frame_0.8": lambda x: _frame(x, 0.8),
    "markers": _markers,
    "site_processed": lambda x: _noise(_sharpen(adjust_gamma(x, torch.full((x.shape[0],), 0.7)), 1.0), 0.03),
    "site_portable": lambda x: _markers(_collimation(_contrast(x, 0.6), 0.06)),
}


ScoreShift = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (calibrated logits, labels 0/1) -> shifted logits


def _spread(scores: np.ndarray, labels: np.ndarray, cls: int, factor: float) -> np.ndarray:
    """Class `cls`'s scores spread `factor` times as wide about their median."""
    out = scores.copy()
    m = np.median(scores[labels == cls])
    out[labels == cls] = m + factor * (scores[labels == cls] - m)
    return out


# Shifts of the scores themselves, on the clean validation films' calibrated logits (labels
# known: this is simulation). What a new population or a new scanner can do that the image
# shifts above barely do to this model: move one class or both, either way, or blur the gap.
# Both directions are here; they were written knowing that the product over-calls healthy
# children at the one real new site measured (the test split).
SCORE_SHIFTS: dict[str, ScoreShift] = {
    "scores_both_+3": lambda s, y: s + 3.0,
    "scores_both_-3": lambda s, y: s - 3.0,
    "scores_normal_+5": lambda s, y: s + 5.0 * (y == 0),
    "scores_pneumonia_-5": lambda s, y: s - 5.0 * (y == 1),
    "scores_compressed_0.5": lambda s, y: 0.5 * s,
    "scores_normal_spread_2": lambda s, y: _spread(s, y, 0, 2.0),
}
