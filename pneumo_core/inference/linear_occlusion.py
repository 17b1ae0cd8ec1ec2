"""Fast stand-ins for the occlusion map: its first-order estimate, and a CAM weighted by a
coarse occlusion.

`linear_occlusion_map`: blanking cell c changes the input by (fill - x) on c, so to first
order the class logit falls by sum over c of grad . (x - fill) (a Taylor expansion at the
film; gradient x input with the blanking as its baseline). One forward and one full backward
pass give all cells at once, where the exact map needs one forward pass per cell.

`cam_times_coarse_occlusion`: a CAM's cells (fine, nearly free, but spotty and sometimes on the
wrong region) weighted by an exact occlusion on a coarse grid (a few passes that say which
part of the film the class score depends on).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from .cam import cam_map
from .occlusion import grid_edges, occlusion_map, pool_to_cells

__all__ = ["linear_occlusion_map", "cam_times_coarse_occlusion"]

COARSE_FLOOR = 0.1  # a coarse cell whose blanking moved nothing keeps a tenth of its CAM weight


def _cell_sums(values: np.ndarray, grid: int) -> np.ndarray:
    e = grid_edges(values.shape[-1], grid)
    return np.add.reduceat(np.add.reduceat(values, e[:-1], axis=0), e[:-1], axis=1)


def linear_occlusion_map(predictor: Any, x: torch.Tensor, grid: int,
                         decide: Callable[[float], int]) -> tuple[np.ndarray, float, float]:
    """First-order occlusion map of one model input (1, C, S, S), flat fill (the image mean).

    Returns (map S x S float32 in [0, 1], constant per cell; the largest estimated logit drop;
    the raw logit). Cells estimated to raise the class's logit count as 0. Parameters stay
    frozen (no `.grad`); the gradient is taken with respect to a copy of the input.
    """
    model = predictor.model
    with predictor.lock, torch.inference_mode(False), torch.enable_grad():
        xi = x.detach().clone().to(predictor.device).requires_grad_(True)
        out = model(xi.contiguous(memory_format=torch.channels_last)).reshape(-1)[0]
        logit = float(out.detach())
        (grad,) = torch.autograd.grad(out, xi)
    sign = 1.0 if decide(logit) == 1 else -1.0
    xd = xi.detach()
    contrib = (sign * grad * (xd - xd.mean())).sum(dim=1)[0].double().cpu().numpy()  # S x S
    cells = np.maximum(_cell_sums(contrib, grid), 0.0)
    raw_max = float(cells.max())
    cells = cells / raw_max if raw_max > 0 else cells
    e = grid_edges(x.shape[-1], grid)
    heat = np.repeat(np.repeat(cells, np.diff(e), axis=0), np.diff(e), axis=1)
    return heat.astype(np.float32), raw_max, logit


def cam_times_coarse_occlusion(predictor: Any, x: torch.Tensor, cam_class: type, layer: torch.nn.Module,
                               decide: Callable[[float], int], coarse: int = 3,
                               cells: int = 14) -> tuple[np.ndarray, float, float]:
    """A CAM pooled to `cells` x `cells` cells, times (floor + exact flat occlusion on a
    `coarse` x `coarse` grid): coarse^2 forward passes on top of the CAM, whose own forward
    pass gives the unoccluded logit. Returns (map in [0, 1], the coarse occlusion's largest
    raw logit drop, the raw logit)."""
    cam, _, logit = cam_map(predictor, x, cam_class, layer, decide)
    occ, occ_max, _ = occlusion_map(predictor, x, coarse, decide, logit=logit)
    heat = pool_to_cells(cam * (COARSE_FLOOR + (1 - COARSE_FLOOR) * occ), cells)
    top = float(heat.max())
    return (heat / top if top > 0 else heat).astype(np.float32), occ_max, logit
