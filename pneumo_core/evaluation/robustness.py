"""Validation under simulated acquisition shift, used to choose between candidate models.

The clean validation set comes from the same hospital workflow as training and is
nearly saturated (AUC > 0.999), so it cannot tell a brittle model from a robust one.
Re-scoring it under fixed, deterministic exposure/contrast/focus/noise changes asks
which candidate stays calibrated when the images look different, without ever
looking at the test split.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, ContextManager

import numpy as np
import torch

from ..calibration import calibrated
from ..data.augment import adjust_gamma, gaussian_blur
from ..data.preprocess import InputSpec, standardise, to_unit
from ..stats.metrics import balanced_log_loss

if TYPE_CHECKING:  # only a type here: training imports this module without the inference stack
    from ..inference.predictor import Predictor

__all__ = ["CORRUPTIONS", "contrast_change", "gaussian_noise", "SELECTION_RULE", "shifted_logits", "shifted_validation_loss"]

# How `python -m pneumo_core dev select` chooses, in the words its record keeps.
SELECTION_RULE = "lowest mean balanced log loss on validation, clean and under simulated acquisition shift"


def contrast_change(x: torch.Tensor, c: float) -> torch.Tensor:
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - m) * c + m).clamp(0, 1)


def gaussian_noise(x: torch.Tensor, sd: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sd * torch.randn(x.shape, generator=g)).clamp(0, 1)


CORRUPTIONS = {
    "clean": lambda x: x,
    "gamma_0.7": lambda x: adjust_gamma(x, torch.full((x.shape[0],), 0.7)),
    "gamma_1.4": lambda x: adjust_gamma(x, torch.full((x.shape[0],), 1.4)),
    "contrast_0.7": lambda x: contrast_change(x, 0.7),
    "brightness_+0.1": lambda x: (x + 0.1).clamp(0, 1),
    "blur_1.0": lambda x: gaussian_blur(x, torch.full((x.shape[0],), 1.0)),
    "noise_0.03": lambda x: gaussian_noise(x, 0.03),
}


@torch.inference_mode()
def shifted_logits(model: torch.nn.Module, images_u8: np.ndarray, spec: InputSpec, device: torch.device = torch.device("cpu"),
                   batch: int = 64, lock: ContextManager | None = None) -> dict[str, np.ndarray]:
    """Raw logits of every image under each corruption, 'clean' included. `lock` guards a
    model shared with other threads (Predictor.lock)."""
    model.eval()
    out = {}
    for name, corrupt in CORRUPTIONS.items():
        chunks = []
        for i in range(0, len(images_u8), batch):
            x = standardise(corrupt(to_unit(torch.from_numpy(images_u8[i:i + batch]))), spec).to(device)
            with lock or nullcontext():
                chunks.append(model(x).squeeze(1).double().cpu())
        out[name] = torch.cat(chunks).numpy()
    return out


def shifted_validation_loss(predictor: Predictor, images_u8: np.ndarray, labels: np.ndarray, batch: int = 64) -> dict[str, float]:
    """Balanced log loss of calibrated probabilities under each corruption, and their mean."""
    logits = shifted_logits(predictor.model, images_u8, predictor.spec, predictor.device, batch, predictor.lock)
    out = {name: balanced_log_loss(labels, calibrated(z, predictor.bundle.temperature)) for name, z in logits.items()}
    out["mean"] = float(np.mean(list(out.values())))
    return out
