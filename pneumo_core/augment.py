"""Training-time augmentation on whole batches, on whatever device the batch is on.

Small affine jitter (rotation, zoom, shift) and brightness/contrast, drawn per image and
applied with one `grid_sample`, so a GPU run and a CPU run use the same code. Inputs
are float (B,1,H,W) in [0,1], before standardisation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["AugmentConfig", "augment"]


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 10.0
    zoom: float = 0.10       # scale drawn from [1-zoom, 1+zoom]
    shift: float = 0.08      # fraction of the side
    brightness: float = 0.10  # additive, fraction of full range
    contrast: float = 0.15   # multiplicative around the image mean
    hflip: bool = False      # anatomically questionable (heart on the wrong side); decided on validation


def _uniform(n: int, lo: float, hi: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g).to(device) * (hi - lo) + lo


def augment(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    n, dev = x.shape[0], x.device
    angle = _uniform(n, -cfg.rotate_deg, cfg.rotate_deg, g, dev) * (math.pi / 180)
    scale = _uniform(n, 1 - cfg.zoom, 1 + cfg.zoom, g, dev)
    tx, ty = (_uniform(n, -cfg.shift, cfg.shift, g, dev) * 2 for _ in range(2))
    flip = torch.where(torch.rand(n, generator=g).to(dev) < 0.5, -1.0, 1.0) if cfg.hflip else torch.ones(n, device=dev)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    c = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, g, dev).view(n, 1, 1, 1)
    b = _uniform(n, -cfg.brightness, cfg.brightness, g, dev).view(n, 1, 1, 1)
    return ((x - mean) * c + mean + b).clamp_(0, 1)
