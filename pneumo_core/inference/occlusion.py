"""Blanking regions of a model input, and the occlusion map built from it.

One blanking rule for the product and its checks: masked pixels take the image's own mean
(over the whole model input, before blanking). That removes local content without darkening
the film; 0 (black, like aerated lung) would itself push towards NORMAL wherever it lands.
`saliency.blanking_check`, the occlusion map and `evaluation.saliency_checks` all call
`blank`, so the app's check line and the benchmark perturb films the same way.

The occlusion map (Zeiler & Fergus 2014) blanks each cell of a grid x grid partition of the
input in turn and records how much the explained class's logit falls: one forward pass per
cell, in batches. It measures the model's response to exactly this perturbation, which is why
it needs no gradients and also why a deletion check that blanks the same way favours it.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

__all__ = ["grid_edges", "cell_masks", "top_mask", "blank", "class_logits", "occlusion_map"]

CELLS_PER_PASS = 14  # one grid row per forward pass at 14x14: small batches stay in the CPU's caches


def grid_edges(size: int, grid: int) -> np.ndarray:
    """Pixel edges of `grid` near-equal cells along a side of `size` pixels (exact 16-px cells
    for 224/14; 128/14 alternates 9- and 10-px cells)."""
    if not 1 <= grid <= size:
        raise ValueError(f"grid must be within [1, {size}], not {grid}")
    return np.rint(np.linspace(0, size, grid + 1)).astype(int)


def cell_masks(size: int, grid: int) -> np.ndarray:
    """(grid*grid, size, size) bool: one mask per cell, in raster order."""
    e = grid_edges(size, grid)
    out = np.zeros((grid * grid, size, size), dtype=bool)
    for r in range(grid):
        for c in range(grid):
            out[r * grid + c, e[r]:e[r + 1], e[c]:e[c + 1]] = True
    return out


def top_mask(heatmap: np.ndarray, fraction: float) -> np.ndarray:
    """Bool mask of the `fraction` of pixels the map ranks highest (ties in raster order, so
    a blocky map gives the same mask every time)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    heat = np.asarray(heatmap, dtype=np.float32)
    k = int(round(fraction * heat.size))
    mask = np.zeros(heat.size, dtype=bool)
    mask[np.argsort(-heat.ravel(), kind="stable")[:k]] = True
    return mask.reshape(heat.shape)


def blank(x: torch.Tensor, masks: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Copies of one model input (1, C, S, S) with each mask's pixels set to the input's
    mean; `masks` is (S, S) or (B, S, S) bool -> (B, C, S, S)."""
    m = torch.as_tensor(np.asarray(masks, dtype=bool))
    if m.dim() == 2:
        m = m[None]
    out = x.expand(len(m), -1, -1, -1).clone()
    out[m[:, None].expand_as(out)] = float(x.mean())
    return out


def class_logits(predictor: Any, x: torch.Tensor, batch: int = CELLS_PER_PASS) -> np.ndarray:
    """Raw logits (B,) of model inputs (B, C, S, S), in batches under the predictor's lock."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(predictor.device).contiguous(memory_format=torch.channels_last)
            with predictor.lock:
                out.append(predictor.model(xb).reshape(-1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def occlusion_map(predictor: Any, x: torch.Tensor, grid: int,
                  decide: Callable[[float], int]) -> tuple[np.ndarray, float, float]:
    """Occlusion map of one model input (1, C, S, S).

    Args:
        predictor: a `Predictor`.
        x: the standardised model input.
        grid: cells per side.
        decide: the unoccluded raw logit -> the class explained (1 = PNEUMONIA, 0 = NORMAL).

    Returns:
        (map S x S float32 in [0, 1], constant within each cell and scaled to its maximum;
        the largest raw drop in the explained class's logit; the unoccluded raw logit).
        Cells whose blanking raised the class's logit count as 0.
    """
    size = x.shape[-1]
    masks = cell_masks(size, grid)
    logits = class_logits(predictor, torch.cat([x, blank(x, masks)]))
    sign = 1.0 if decide(float(logits[0])) == 1 else -1.0
    drops = np.maximum(sign * (logits[0] - logits[1:]), 0.0)
    raw_max = float(drops.max())
    cells = (drops / raw_max if raw_max > 0 else drops).astype(np.float32)
    heat = np.einsum("k,khw->hw", cells, masks.astype(np.float32))
    return heat.astype(np.float32), raw_max, float(logits[0])
