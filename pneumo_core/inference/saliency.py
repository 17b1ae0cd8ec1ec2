"""Class-faithful saliency maps (pytorch-grad-cam) for a shared, cached `Predictor`.

`explain` answers "which regions drove the call the product shows?": with no explicit
target it explains the class shown at the threshold (the model has one logit, so
pytorch-grad-cam's `targets=None` would always explain PNEUMONIA). Maps are relative:
min-max normalised per image, so colours are not comparable across images; `cam_max`
keeps the raw maximum for that.

Safe on a model other threads use: the whole CAM call holds `predictor.lock`, hooks are
removed afterwards, parameters stay frozen (no `.grad`), and the model stays in eval mode.
"""
from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM
from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

from ..calibration import calibrated
from ..data.dataset import CLASSES
from ..data.preprocess import preprocess
from ..io.ingest import Radiograph, load
from ..io.overlay import render_overlay
from ..models.registry import target_layer

__all__ = ["CamMethod", "METHODS", "Explanation", "explain", "CamWriter"]


class CamMethod(NamedTuple):
    cam: type
    class_specific: bool
    label: str


METHODS: dict[str, CamMethod] = {
    "gradcam": CamMethod(GradCAM, True, "Grad-CAM"),
    "gradcam++": CamMethod(GradCAMPlusPlus, True, "Grad-CAM++"),
    "hirescam": CamMethod(HiResCAM, True, "HiResCAM"),
    "layercam": CamMethod(LayerCAM, True, "LayerCAM"),
    "eigencam": CamMethod(EigenCAM, False, "EigenCAM (not class-specific)"),
}

_RELATIVE = ("Relative map: scaled to this image's own maximum, so colours cannot be compared "
             "across images or models.")


@dataclass
class Explanation:
    heatmap: np.ndarray  # float32 SxS (model input size), [0, 1], min-max normalised per image
    overlay: np.ndarray  # uint8 HxWx3 RGB at the original image size
    target_class: str  # the class explained: "PNEUMONIA" or "NORMAL"
    method: str
    class_specific: bool
    cam_max: float  # raw CAM maximum before normalisation (units of activation x gradient)
    probability: float  # calibrated P(pneumonia) from the CAM's own forward pass
    threshold: float
    relative: bool = True
    note: str = _RELATIVE


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


class _ShownClass:
    """CAM target that explains the class the product shows for this very forward pass
    (PNEUMONIA when calibrated p >= threshold), so one forward pass both decides and explains."""

    def __init__(self, predictor: Any, threshold: float, fixed: int | None) -> None:
        self.predictor, self.threshold, self.category = predictor, threshold, fixed

    def decide(self, logit: torch.Tensor) -> int:
        p = float(calibrated(logit.detach().double().cpu().reshape(-1).numpy(), self.predictor.bundle.temperature)[0])
        if self.category is None:
            self.category = CLASSES.index(self.predictor.label(p, self.threshold))
        return self.category

    def __call__(self, logit: torch.Tensor) -> torch.Tensor:
        return BinaryClassifierOutputTarget(self.decide(logit))(logit)


def _cut_below(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
    # Gradients are needed only from the logit down to the target layer. Detaching its
    # output (a fresh leaf that requires grad) stops backward there instead of running
    # it through the whole backbone to an input that requires grad (pytorch-grad-cam's
    # recipe for frozen parameters): the same map, 2-4x cheaper on a CPU, and with the
    # parameters frozen no gradient can reach them.
    return output.detach().requires_grad_(True)


def explain(predictor: Any, radiograph_or_pixels: Radiograph | np.ndarray, method: str = "gradcam",
            target: str | None = None, threshold: str | float | None = "balanced",
            opacity: float = 0.5) -> Explanation:
    """Saliency map for one radiograph, explaining `target` or, by default, the class the
    product shows at `threshold`.

    Args:
        predictor: a `Predictor` (its model may be shared with other threads).
        radiograph_or_pixels: a `Radiograph` or float HxW pixels in [0, 1].
        method: a key of `METHODS`.
        target: "PNEUMONIA" / "NORMAL" to override the class shown.
        threshold: named or numeric threshold deciding the class shown.
        opacity: heatmap weight in the overlay (0 = image only).
    """
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; known: {', '.join(METHODS)}")
    if target is not None and target not in CLASSES:
        raise ValueError(f"target must be one of {', '.join(CLASSES)} or None, not {target!r}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be within [0, 1], not {opacity}")
    pixels = radiograph_or_pixels.pixels if isinstance(radiograph_or_pixels, Radiograph) else radiograph_or_pixels
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"expected a grayscale HxW image, got shape {pixels.shape}")
    thr = predictor.threshold(threshold)
    model = predictor.model
    if any(p.requires_grad for p in model.parameters()):
        raise ValueError("model parameters must be frozen (Predictor does this); a CAM would leave .grad on them")
    spec = METHODS[method]
    chooser = _ShownClass(predictor, thr, None if target is None else CLASSES.index(target))
    x = preprocess(pixels, predictor.spec).to(predictor.device)
    layer = target_layer(model, predictor.bundle.arch)
    # The lock covers hook registration too: another thread's forward pass must never
    # reach these hooks. Building the CAM calls model.eval(), the only state a shared
    # Predictor's model may be in, and nothing here switches it to train mode.
    with predictor.lock, torch.inference_mode(False), torch.enable_grad():
        cut = layer.register_forward_hook(_cut_below)  # registered first: the CAM's hooks see its output
        try:
            with _raw_cam_class(spec.cam)(model=model, target_layers=[layer]) as cam:
                cam.raw_cams = []
                heatmap = cam(input_tensor=x, targets=[chooser])[0]
                logit = cam.outputs.detach()[0]
                cam_max = float(max(c.max() for c in cam.raw_cams))
                cam.outputs = None  # drop the graph now rather than with the object
        finally:
            cut.remove()
    chooser.decide(logit)  # EigenCAM never calls its target: decide from the same logit
    probability = float(calibrated(logit.double().cpu().numpy(), predictor.bundle.temperature)[0])
    target_class = CLASSES[chooser.category]
    heatmap = np.clip(heatmap, 0.0, 1.0).astype(np.float32)
    return Explanation(heatmap=heatmap, overlay=render_overlay(pixels, heatmap, opacity), target_class=target_class,
                       method=method, class_specific=spec.class_specific, cam_max=cam_max,
                       probability=probability, threshold=thr, note=_note(spec, target_class, cam_max))


def _note(spec: CamMethod, target_class: str, cam_max: float) -> str:
    if not spec.class_specific:
        return (f"{_RELATIVE} {spec.label}: the main pattern in the model's features, the same "
                "whichever class is shown.")
    if cam_max <= 0.0:
        return f"{_RELATIVE} No region raised the {target_class} score: the map is empty."
    return f"{_RELATIVE} Highlights regions that raised the {target_class} score."


class CamWriter:
    """Writes one overlay PNG per prediction for `python -m pneumo_core predict --cam OUTDIR`."""

    def __init__(self, predictor: Any, outdir: str | Path, method: str = "gradcam", opacity: float = 0.5) -> None:
        if method not in METHODS:  # fail before any image is scored
            raise ValueError(f"unknown saliency method {method!r}; known: {', '.join(METHODS)}")
        self.predictor, self.method, self.opacity = predictor, method, opacity
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)

    def write(self, prediction: Any) -> str:
        """Explains the label the prediction reported (at its threshold); returns the PNG path.

        Names come from the input's stem; an existing file with other content is never
        overwritten (a numbered name is used instead), an identical one is reused.
        """
        rad = load(prediction.file)
        exp = explain(self.predictor, rad, self.method, target=prediction.label, threshold=prediction.threshold,
                      opacity=self.opacity)
        buf = io.BytesIO()
        Image.fromarray(exp.overlay).save(buf, format="PNG")
        data = buf.getvalue()
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(prediction.file).stem).strip("._-")[:80] or "image"
        for i in range(10_000):
            path = self.outdir / f"{stem}.{self.method}{f'-{i}' if i else ''}.png"
            try:
                with open(path, "xb") as f:  # exclusive create: never replaces a file
                    f.write(data)
                return str(path)
            except FileExistsError:
                if path.read_bytes() == data:
                    return str(path)
        raise FileExistsError(f"too many overlays named {stem}.{self.method}*.png in {self.outdir}")
