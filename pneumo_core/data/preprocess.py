"""The one preprocessing contract: radiograph -> square, quantised, normalised tensor.

Training, evaluation, the CLI and the app all call these functions, and the numbers
they use (size, channels, mean, std) come from the model's metadata (`InputSpec`),
never from a second hard-coded copy. The resize squashes to a square with no crop:
the test split was already squashed to 224x224 by its public copies, so train must
match.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

__all__ = ["InputSpec", "resize_square", "standardise", "to_unit", "preprocess", "preprocess_batch"]


@dataclass(frozen=True)
class InputSpec:
    size: int = 224
    channels: int = 1
    mean: float = 0.5
    std: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "InputSpec":
        return cls(size=int(d["size"]), channels=int(d["channels"]), mean=float(d["mean"]), std=float(d["std"]))


def resize_square(pixels: np.ndarray, size: int) -> np.ndarray:
    """Float [0,1] HxW -> uint8 size x size. Quantising here lets training keep a
    compact uint8 cache while staying bit-identical to what prediction sees."""
    img = Image.fromarray(np.asarray(pixels, dtype=np.float32), mode="F")
    img = img.resize((size, size), Image.BILINEAR)
    return np.clip(np.rint(np.asarray(img) * 255.0), 0, 255).astype(np.uint8)


def to_unit(batch_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (B,H,W) or (B,1,H,W) -> float (B,1,H,W) in [0,1]; augmentation works here."""
    x = batch_u8.float().div_(255.0)
    return x.unsqueeze(1) if x.dim() == 3 else x


def standardise(batch_unit: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    x = (batch_unit - spec.mean) / spec.std
    return x.expand(-1, spec.channels, -1, -1) if spec.channels != 1 else x


def preprocess(pixels: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """One radiograph (float HxW) -> model input (1,C,S,S)."""
    return standardise(to_unit(torch.from_numpy(resize_square(pixels, spec.size))[None]), spec)


def preprocess_batch(images_u8: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """Already-resized uint8 images (B,S,S) -> model input (B,C,S,S)."""
    return standardise(to_unit(torch.from_numpy(np.ascontiguousarray(images_u8))), spec)
