"""The Grad-CAM family's map for one model input, via pytorch-grad-cam, on a shared model.

Safe on a model other threads use: the whole call holds `predictor.lock`, hooks are removed
afterwards (also when the CAM fails), parameters stay frozen (no `.grad`), and the model
stays in eval mode. The raw map's maximum is kept (`cam_max`), because pytorch-grad-cam
returns maps min-max scaled per image.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import torch
from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

__all__ = ["cam_map"]


class _KeepsRawCam:
    """Mixin that records each layer's CAM before pytorch-grad-cam rescales it.

    `BaseCAM.compute_cam_per_layer` hands `get_cam_image`'s output straight to
    `scale_cam_image` (min-max) and never returns it. `get_cam_image` is the one method
    every CAM class implements or inherits, so wrapping it captures the raw map for any
    method without copying library code (overriding `compute_cam_per_layer` would).
    """

    raw_cams: list[np.ndarray]

    def get_cam_image(self, *args: Any, **kwargs: Any) -> np.ndarray:
        cam = super().get_cam_image(*args, **kwargs)  # type: ignore[misc]
        self.raw_cams.append(np.maximum(cam, 0))  # the library applies this ReLU next
        return cam

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        # BaseCAM.__exit__ prints and swallows IndexError; a failed map must raise instead.
        self.activations_and_grads.release()  # type: ignore[attr-defined]
        return False


@functools.cache
def _raw_cam_class(cls: type) -> type:
    return type(f"Raw{cls.__name__}", (_KeepsRawCam, cls), {})


class _Target:
    """CAM target deciding the class from this very forward pass's logit, so one forward
    pass both decides and explains (a single-logit model: pytorch-grad-cam's `targets=None`
    would always explain PNEUMONIA)."""

    def __init__(self, decide: Callable[[float], int]) -> None:
        self.decide, self.category = decide, None

    def __call__(self, logit: torch.Tensor) -> torch.Tensor:
        if self.category is None:
            self.category = self.decide(float(logit.detach().reshape(-1)[0]))
        return BinaryClassifierOutputTarget(self.category)(logit)


def _cut_below(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
    # Gradients are needed only from the logit down to the target layer. Detaching its
    # output (a fresh leaf that requires grad) stops backward there instead of running
    # it through the whole backbone to an input that requires grad (pytorch-grad-cam's
    # recipe for frozen parameters): the same map, 2-4x cheaper on a CPU, and with the
    # parameters frozen no gradient can reach them.
    return output.detach().requires_grad_(True)


def cam_map(predictor: Any, x: torch.Tensor, cam_class: type, layer: torch.nn.Module,
            decide: Callable[[float], int]) -> tuple[np.ndarray, float, float]:
    """One CAM of model input `x` (1, C, S, S) at `layer`.

    Args:
        predictor: a `Predictor` (frozen parameters, a lock).
        x: the standardised model input.
        cam_class: a pytorch-grad-cam class (GradCAM, HiResCAM, ...).
        layer: the module hooked.
        decide: raw logit -> class explained (1 = PNEUMONIA, 0 = NORMAL); called once, with
            the logit of the CAM's own forward pass (also for methods that never call it).

    Returns:
        (map S x S in [0, 1], raw maximum before scaling, raw logit).
    """
    model = predictor.model
    if any(p.requires_grad for p in model.parameters()):
        raise ValueError("model parameters must be frozen (Predictor does this); a CAM would leave .grad on them")
    target = _Target(decide)
    # The lock covers hook registration too: another thread's forward pass must never
    # reach these hooks. Building the CAM calls model.eval(), the only state a shared
    # Predictor's model may be in, and nothing here switches it to train mode.
    with predictor.lock, torch.inference_mode(False), torch.enable_grad():
        cut = layer.register_forward_hook(_cut_below)  # registered first: the CAM's hooks see its output
        try:
            with _raw_cam_class(cam_class)(model=model, target_layers=[layer]) as cam:
                cam.raw_cams = []
                heatmap = cam(input_tensor=x.to(predictor.device), targets=[target])[0]
                logit = float(cam.outputs.detach().reshape(-1)[0])
                cam_max = float(max(c.max() for c in cam.raw_cams))
                cam.outputs = None  # drop the graph now rather than with the object
        finally:
            cut.remove()
    if target.category is None:  # EigenCAM never calls its target
        target.category = decide(logit)
    return np.clip(heatmap, 0.0, 1.0).astype(np.float32), cam_max, logit
