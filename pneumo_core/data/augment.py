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

__all__ = ["AugmentConfig", "PRESETS", "augment", "gaussian_blur", "adjust_gamma"]


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 10.0
    zoom: float = 0.10       # scale drawn from [1-zoom, 1+zoom]
    shift: float = 0.08      # fraction of the side
    brightness: float = 0.10  # additive, fraction of full range
    contrast: float = 0.15   # multiplicative around the image mean
    hflip: bool = False      # anatomically questionable (heart on the wrong side); decided on validation
    # Acquisition-style jitter (exposure curve, focus, detector noise); 0 = off.
    gamma: float = 0.0       # exponent drawn log-uniformly from [1/(1+gamma), 1+gamma]
    blur_sigma: float = 0.0  # Gaussian blur sigma drawn from [0, blur_sigma] px, on half the images
    noise: float = 0.0       # additive Gaussian noise sd drawn from [0, noise]


PRESETS = {
    "standard": AugmentConfig(),
    "acquisition": AugmentConfig(rotate_deg=10.0, zoom=0.15, shift=0.10, brightness=0.15, contrast=0.30,
                                 gamma=0.4, blur_sigma=1.2, noise=0.03),
}


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
    if cfg.gamma:
        lg = math.log1p(cfg.gamma)
        x = adjust_gamma(x, torch.exp(_uniform(n, -lg, lg, g, dev)))
    if cfg.blur_sigma:
        sigma = _uniform(n, 0.0, cfg.blur_sigma, g, dev) * (torch.rand(n, generator=g).to(dev) < 0.5)
        x = gaussian_blur(x, sigma)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    c = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, g, dev).view(n, 1, 1, 1)
    b = _uniform(n, -cfg.brightness, cfg.brightness, g, dev).view(n, 1, 1, 1)
    x = (x - mean) * c + mean + b
    if cfg.noise:
        sd = _uniform(n, 0.0, cfg.noise, g, dev).view(n, 1, 1, 1)
        x = x + sd * torch.randn(x.shape, generator=g).to(dev)
    return x.clamp_(0, 1)


def adjust_gamma(x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Per-image exposure curve x ** gamma on [0,1] images (B,1,H,W); gamma (B,)."""
    return x.clamp(1e-6, 1).pow(gamma.view(-1, 1, 1, 1))


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Per-image separable Gaussian blur; sigma (B,) in pixels, 0 leaves an image as is."""
    n = x.shape[0]
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    s = sigma.clamp_min(1e-3).view(n, 1)
    k = torch.exp(-0.5 * (t.view(1, -1) / s) ** 2)
    k = k / k.sum(1, keepdim=True)
    y = x.transpose(0, 1)  # (1,B,H,W): one group per image
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="replicate"), k.view(n, 1, 1, -1), groups=n)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), k.view(n, 1, -1, 1), groups=n)
    return y.transpose(0, 1)
