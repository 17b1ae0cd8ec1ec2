"""Blanking regions of a model input, and the occlusion map built from it.

Two blanking rules, one home (`FILLS`), so the app's check line, the occlusion map and the
benchmark perturb films alike:
- `blank` (flat): masked pixels take the image's own mean. That removes local content without
  darkening the film (0, black like aerated lung, would push towards NORMAL wherever it
  lands), but a flat grey patch can itself look like an opacity.
- `infill`: masked pixels are filled from their unmasked neighbourhood (normalised Gaussian
  convolution, sigma one 14x14 cell), so the film keeps its local density and look and a
  compact opacity is replaced by the lung around it. A plain local blur would keep a
  consolidation's low-frequency density in place.

The occlusion map (Zeiler & Fergus 2014) blanks each cell of a grid x grid partition of the
input in turn and records how much the explained class's logit falls: one forward pass per
cell, in batches. It measures the model's response to exactly this perturbation, which is why
it needs no gradients and also why a deletion check that blanks the same way favours it.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

__all__ = ["grid_edges", "cell_masks", "pool_to_cells", "top_mask", "blank", "infill", "FILLS", "class_logits",
           "occlusion_map"]

CELLS_PER_PASS = 5  # small batches stay in the CPU's caches: 9 Lite0 inputs took ~59 ms as 5 + 4, ~69 as one batch (2 cores)
INFILL_CELLS = 14  # infill sigma: one cell of a 14x14 grid (16 px at 224)


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


def pool_to_cells(heatmap: np.ndarray, grid: int) -> np.ndarray:
    """The map averaged over each cell of a grid x grid partition (blocky, same shape): its
    top share is then made of whole cells, like the random baseline it is compared with."""
    heat = np.asarray(heatmap, dtype=np.float32)
    e = grid_edges(heat.shape[-1], grid)
    sizes = np.diff(e)
    sums = np.add.reduceat(np.add.reduceat(heat.astype(np.float64), e[:-1], axis=0), e[:-1], axis=1)
    means = (sums / np.outer(sizes, sizes)).astype(np.float32)
    return np.repeat(np.repeat(means, sizes, axis=0), sizes, axis=1)


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


def _as_masks(masks: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Bool masks on the input's device (a tensor stays where it is if already there)."""
    m = masks if torch.is_tensor(masks) else torch.as_tensor(np.asarray(masks, dtype=bool))
    return m.to(device=device, dtype=torch.bool)


def blank(x: torch.Tensor, masks: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Copies of one model input (1, C, S, S) with each mask's pixels set to the input's
    mean; `masks` is (S, S) or (B, S, S) bool -> (B, C, S, S)."""
    m = _as_masks(masks, x.device)
    if m.dim() == 2:
        m = m[None]
    out = x.expand(len(m), -1, -1, -1).clone()
    out[m[:, None].expand_as(out)] = float(x.mean())
    return out


def _gauss_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, S, S) with zero padding (3 sigma), as two products
    with the banded S x S blur matrix: the same sums as a zero-padded convolution, but a
    97-tap depthwise convolution costs ~20 ms on 2 cores and two 224 x 224 products ~1 ms."""
    r = max(1, int(3 * sigma))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    k = k / k.sum()
    size = x.shape[-1]
    offset = torch.arange(size, device=x.device)[None, :] - torch.arange(size, device=x.device)[:, None]  # column - row
    band = torch.where(offset.abs() <= r, k[(offset + r).clamp(0, 2 * r)], torch.zeros((), dtype=x.dtype, device=x.device))
    return band @ x @ band.T  # rows blurred, then columns (the matrix is symmetric: k is)


def infill(x: torch.Tensor, masks: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Copies of one model input (1, C, S, S) with each mask's pixels filled from the unmasked
    film around them: blur(x * keep) / blur(keep), sigma S / 14. Where almost nothing within
    reach is unmasked, the mean of the unmasked pixels fills in (the image mean when all
    are masked). `masks` is (S, S) or (B, S, S) bool -> (B, C, S, S)."""
    m = _as_masks(masks, x.device)
    if m.dim() == 2:
        m = m[None]
    with torch.inference_mode(False), torch.no_grad():
        x0 = x.detach().float().clone()
        keep = (~m)[:, None].to(x0.dtype)
        base = x0.expand(len(m), -1, -1, -1)
        sigma = x.shape[-1] / INFILL_CELLS
        num, den = _gauss_blur(base * keep, sigma), _gauss_blur(keep, sigma)
        kept = keep.sum(dim=(1, 2, 3), keepdim=True)
        far = torch.where(kept > 0, (base * keep).sum(dim=(1, 2, 3), keepdim=True) / kept.clamp(min=1),
                          x0.mean().expand_as(kept))
        fill = torch.where(den > 1e-3, num / den.clamp(min=1e-3), far.expand_as(num))
        out = torch.where(keep.bool().expand_as(base), base, fill)
    return out.to(x.dtype)


FILLS: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]] = {"flat": blank, "infill": infill}


def class_logits(predictor: Any, x: torch.Tensor, batch: int = CELLS_PER_PASS) -> np.ndarray:
    """Raw logits (B,) of model inputs (B, C, S, S), in batches of at most `batch` under the
    predictor's lock. Batches are made even (9 inputs at 4: 3, 3, 3, not 4, 4, 1): an input
    alone costs more than one in a batch (Lite0, 2 cores: ~10 ms against ~7 at four)."""
    out = []
    step = -(-len(x) // -(-len(x) // batch)) if len(x) else batch
    with torch.inference_mode():
        for i in range(0, len(x), step):
            xb = x[i:i + step].to(predictor.device).contiguous(memory_format=torch.channels_last)
            with predictor.lock:
                out.append(predictor.model(xb).reshape(-1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def occlusion_map(predictor: Any, x: torch.Tensor, grid: int, decide: Callable[[float], int],
                  fill: str = "flat", logit: float | None = None) -> tuple[np.ndarray, float, float]:
    """Occlusion map of one model input (1, C, S, S).

    Args:
        predictor: a `Predictor`.
        x: the standardised model input.
        grid: cells per side.
        decide: the unoccluded raw logit -> the class explained (1 = PNEUMONIA, 0 = NORMAL).
        fill: a key of `FILLS`, how a cell is blanked.
        logit: the unoccluded raw logit when the caller already has it (a CAM's forward pass
            on the same input): saves that pass; otherwise it is the first of the batch.

    Returns:
        (map S x S float32 in [0, 1], constant within each cell and scaled to its maximum;
        the largest raw drop in the explained class's logit; the unoccluded raw logit).
        Cells whose blanking raised the class's logit count as 0.
    """
    size = x.shape[-1]
    masks = cell_masks(size, grid)
    blanked = FILLS[fill](x, masks)
    if logit is None:
        logits = class_logits(predictor, torch.cat([x, blanked]))
        logit, occluded = float(logits[0]), logits[1:]
    else:
        occluded = class_logits(predictor, blanked)
    sign = 1.0 if decide(logit) == 1 else -1.0
    drops = np.maximum(sign * (logit - occluded), 0.0)
    raw_max = float(drops.max())
    cells = (drops / raw_max if raw_max > 0 else drops).astype(np.float32)
    heat = np.einsum("k,khw->hw", cells, masks.astype(np.float32))
    return heat.astype(np.float32), raw_max, logit
