"""The shortcut check beside a heatmap (after Zech et al. 2018 and DeGrave et al. 2021, on
radiograph classifiers that learnt markers and text): does the map's strongest cell sit on a
burned-in marker (`inference.markers`), or outside the body; and if so, does filling that
marker (or that cell) in from the film around it change the model's score?

The strongest cell is the map's hottest cell of a `GRID` x `GRID` partition of the model
input (the map averaged per cell, as the faithfulness study pools maps), so a one-pixel
spike does not decide it. It is "on a marker" when any detected marker's box meets it, and
"outside the body" when less than half of it lies in `markers.body_mask`. The fill is the
check's own (`occlusion.FILLS["infill"]`), scored beside the film as given in one batch of two,
only when the cell is flagged.
The words are `reporting.shortcut_check`'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.preprocess import preprocess_batch
from .markers import Marker, body_mask, detect_markers, marker_mask
from .occlusion import FILLS, class_logits, grid_edges, pool_to_cells

__all__ = ["GRID", "ShortcutFinding", "strongest_cell", "find_shortcut", "infilled_logits"]

GRID = 14  # the faithfulness study's cells (16 px at 224)
BODY_SHARE = 0.5  # a cell with less of its area on the body than this lies outside it


@dataclass(frozen=True)
class ShortcutFinding:
    """Where the map's strongest cell lies, and the raw logits before and after the flagged
    region (the markers under the cell, else the cell outside the body) is filled in; both
    logits None when nothing is flagged."""
    cell: tuple[int, int, int, int]  # top, left, bottom, right (end exclusive), model-input pixels
    markers_on_film: int
    on_marker: bool
    outside_body: bool
    logit_before: float | None = None
    logit_after: float | None = None

    @property
    def flagged(self) -> bool:
        return self.on_marker or self.outside_body


def strongest_cell(heatmap: np.ndarray, grid: int = GRID) -> tuple[int, int, int, int]:
    """The box of the map's hottest cell of a grid x grid partition (ties in raster order)."""
    heat = np.asarray(heatmap, dtype=np.float32)
    e = grid_edges(heat.shape[-1], grid)
    means = pool_to_cells(heat, grid)[e[:-1]][:, e[:-1]]
    r, c = divmod(int(np.argmax(means)), grid)
    return int(e[r]), int(e[c]), int(e[r + 1]), int(e[c + 1])


def _meets(m: Marker, cell: tuple[int, int, int, int]) -> bool:
    top, left, bottom, right = cell
    return m.top < bottom and m.bottom > top and m.left < right and m.right > left


def infilled_logits(predictor: Any, model_input: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Raw logits of the film as given, then with each of `masks` (n, S, S) filled in from
    the film around it (n + 1 forward passes)."""
    x = preprocess_batch(np.asarray(model_input, dtype=np.uint8)[None], predictor.spec)
    return class_logits(predictor, torch.cat([x, FILLS["infill"](x, np.asarray(masks, dtype=bool))]))


def find_shortcut(predictor: Any, model_input: np.ndarray, heatmap: np.ndarray) -> ShortcutFinding:
    """The check for one film's map (`heatmap` on the model input's grid): markers found, where
    the strongest cell lies, and when it is flagged the logits before and after the fill."""
    film = np.asarray(model_input, dtype=np.uint8)
    cell = strongest_cell(heatmap)
    top, left, bottom, right = cell
    markers = detect_markers(film)
    under = [m for m in markers if _meets(m, cell)]
    outside = float(body_mask(film)[top:bottom, left:right].mean()) < BODY_SHARE
    found = ShortcutFinding(cell, len(markers), bool(under), outside)
    if not found.flagged:
        return found
    if under:
        mask = marker_mask(film.shape, under)
    else:
        mask = np.zeros(film.shape, dtype=bool)
        mask[top:bottom, left:right] = True
    before, after = (float(z) for z in infilled_logits(predictor, film, mask[None]))
    return ShortcutFinding(cell, len(markers), bool(under), outside, before, after)
