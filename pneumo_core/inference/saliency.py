"""Class-faithful saliency maps for a shared, cached `Predictor`, and a one-pass check of each.

`explain` answers "which regions drove the call the product shows?": with no explicit
target it explains the class shown at the threshold. Maps are relative: scaled per image
to their own maximum, so colours are not comparable across images; `cam_max` keeps the raw
maximum. `blanking_check` says, in one extra forward pass, whether the highlighted region
matters for this film: P(pneumonia) before and after the map's top 20% is filled in from the
film around it (`occlusion.infill`, which does not paint an opacity-like patch).

The default method was chosen by `benchmarks/saliency_faithfulness.py` on validation films
(docs/saliency.md): `DEFAULT_METHOD`, `default_method(arch)`; the CAM layer is in
`models.registry` (`target_layer`).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
from PIL import Image
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM

from ..data.dataset import CLASSES
from ..data.preprocess import preprocess_batch, resize_square
from ..io.ingest import Radiograph
from ..io.overlay import render_overlay
from ..models.registry import target_layer
from .cam import cam_map
from .linear_occlusion import cam_times_coarse_occlusion, linear_occlusion_map
from .occlusion import FILLS, class_logits, occlusion_map, pool_to_cells, top_mask
from .saliency_default import DEFAULT_METHOD, default_method

__all__ = ["CamMethod", "METHODS", "DEFAULT_METHOD", "default_method", "Explanation", "explain",
           "BlankingCheck", "blanking_check", "CamWriter"]


Builder = Callable[[Any, Any, Any, Callable[[float], int]], tuple[np.ndarray, float, float]]


class CamMethod(NamedTuple):
    cam: type | None  # a pytorch-grad-cam class; None for maps built another way
    class_specific: bool
    label: str
    grid: int = 0  # occlusion-type maps: cells per side
    build: Builder | None = None  # (predictor, x, layer, decide) -> (map, raw max, logit) when not a plain CAM
    highlights: str = "regions that raised the {cls} score"


def _layercam_cells(predictor: Any, x: Any, layer: Any, decide: Callable[[float], int]) -> tuple[np.ndarray, float, float]:
    heat, cam_max, logit = cam_map(predictor, x, LayerCAM, layer, decide)
    cells = pool_to_cells(heat, 14)
    return (cells / cells.max() if cells.max() > 0 else cells).astype(np.float32), cam_max, logit


METHODS: dict[str, CamMethod] = {
    "gradcam": CamMethod(GradCAM, True, "Grad-CAM"),
    "gradcam++": CamMethod(GradCAMPlusPlus, True, "Grad-CAM++"),
    "hirescam": CamMethod(HiResCAM, True, "HiResCAM"),
    "layercam": CamMethod(LayerCAM, True, "LayerCAM"),
    "layercam-cells": CamMethod(LayerCAM, True, "LayerCAM, 14x14 cells", grid=14, build=_layercam_cells),
    "linear-occlusion": CamMethod(None, True, "Linearised occlusion (14x14 cells, one backward pass)", grid=14,
                                  build=lambda p, x, _l, d: linear_occlusion_map(p, x, 14, d),
                                  highlights="regions whose blanking is estimated (to first order) to lower the "
                                             "{cls} score most"),
    "layercam-occ3": CamMethod(LayerCAM, True, "LayerCAM x 3x3 occlusion (11 passes)", grid=14,
                               build=lambda p, x, layer, d: cam_times_coarse_occlusion(p, x, LayerCAM, layer, d),
                               highlights="regions that raised the {cls} score, weighted by how much blanking "
                                          "each ninth of the film lowered it"),
    "eigencam": CamMethod(EigenCAM, False, "EigenCAM (not class-specific)"),
    "occlusion": CamMethod(None, True, "Occlusion (14x14 cells, exact, slow)", grid=14,
                           build=lambda p, x, _l, d: occlusion_map(p, x, 14, d),
                           highlights="regions whose blanking lowered the {cls} score most"),
}

_RELATIVE = ("Relative map: scaled to this image's own maximum, so colours cannot be compared "
             "across images or models.")


@dataclass
class Explanation:
    heatmap: np.ndarray  # float32 SxS (model input size), [0, 1], scaled to its own maximum
    overlay: np.ndarray  # uint8 HxWx3 RGB: at the original size for pixels, SxS for a model input
    target_class: str  # the class explained: "PNEUMONIA" or "NORMAL"
    method: str
    class_specific: bool
    cam_max: float  # raw maximum before scaling (CAM: activation x gradient; occlusion: logit drop)
    probability: float  # P(pneumonia) from the map's own forward pass, calibrated like Prediction.probability
    threshold: float
    model_input: np.ndarray  # uint8 SxS: the image the model saw and the map explains
    logit: float  # the raw logit of that forward pass
    relative: bool = True
    note: str = _RELATIVE


def _model_input(predictor: Any, image: Radiograph | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(model input uint8 SxS, picture to draw the overlay on)."""
    size = predictor.spec.size
    if isinstance(image, Radiograph):
        image = image.pixels
    a = np.asarray(image)
    if a.ndim != 2:
        raise ValueError(f"expected a grayscale HxW image, got shape {a.shape}")
    if a.dtype == np.uint8:
        if a.shape != (size, size):
            raise ValueError(f"a uint8 image is taken as the prepared model input and must be {size}x{size}, "
                             f"not {a.shape[0]}x{a.shape[1]}; pass float pixels in [0, 1] to resize them")
        return a, a
    pixels = a.astype(np.float32)
    return resize_square(pixels, size), pixels


def explain(predictor: Any, image: Radiograph | np.ndarray, method: str | None = None,
            target: str | None = None, threshold: str | float | None = "balanced",
            opacity: float = 0.5, layer: str | None = None) -> Explanation:
    """Saliency map for one film, explaining `target` or, by default, the class the product
    shows at `threshold`.

    Reused from the prediction when the caller passes `Prediction.model_input`: the decoded,
    resized and (when the input gate corrected it) upright image, so nothing is decoded
    again and a turned film is explained as it was scored. Not reused: the prediction's
    forward pass, which ran under inference mode without the activations and gradients a
    CAM needs. The map's own forward pass decides the class shown and gives `probability`,
    so the two agree to float rounding. Raw pixels are explained as given (no input gate).

    Args:
        predictor: a `Predictor` (its model may be shared with other threads).
        image: `Prediction.model_input` (uint8 SxS), or a `Radiograph` / float HxW pixels in [0, 1].
        method: a key of `METHODS`; default `default_method(arch)` for the predictor's model.
        target: "PNEUMONIA" / "NORMAL" to override the class shown.
        threshold: named or numeric threshold deciding the class shown.
        opacity: heatmap weight in the overlay (0 = image only), drawn on the original pixels
            when given, else on the model input.
        layer: dotted module path for CAM methods; default the architecture's (`models.registry`).
    """
    method = method or default_method(predictor.bundle.arch)
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; known: {', '.join(METHODS)}")
    if target is not None and target not in CLASSES:
        raise ValueError(f"target must be one of {', '.join(CLASSES)} or None, not {target!r}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be within [0, 1], not {opacity}")
    model_input, picture = _model_input(predictor, image)
    thr = predictor.threshold(threshold)
    spec = METHODS[method]

    def decide(raw_logit: float) -> int:
        if target is not None:
            return CLASSES.index(target)
        return CLASSES.index(predictor.label(float(predictor.probabilities([raw_logit])[0]), thr))

    x = preprocess_batch(model_input[None], predictor.spec)
    module = predictor.model.get_submodule(layer) if layer else target_layer(predictor.model, predictor.bundle.arch)
    if spec.build is not None:
        heatmap, cam_max, logit = spec.build(predictor, x, module, decide)
    else:
        heatmap, cam_max, logit = cam_map(predictor, x, spec.cam, module, decide)
    target_class = CLASSES[decide(logit)]
    overlay = render_overlay(picture, heatmap, opacity, target_class)  # as the app draws it: never red on NORMAL
    return Explanation(heatmap=heatmap, overlay=overlay, target_class=target_class,
                       method=method, class_specific=spec.class_specific, cam_max=cam_max,
                       probability=float(predictor.probabilities([logit])[0]), threshold=thr,
                       model_input=model_input, logit=logit, note=_note(spec, target_class, cam_max))


def _note(spec: CamMethod, target_class: str, cam_max: float) -> str:
    if not spec.class_specific:
        return (f"{_RELATIVE} {spec.label}: the main pattern in the model's features, the same "
                "whichever class is shown.")
    if cam_max <= 0.0:
        return f"{_RELATIVE} No region was found for the {target_class} score: the map is empty."
    return f"{_RELATIVE} Highlights {spec.highlights.format(cls=target_class)}."


@dataclass(frozen=True)
class BlankingCheck:
    p_before: float  # P(pneumonia) of the film as explained
    p_after: float  # P(pneumonia) with the map's top `fraction` filled in from the film around it
    fraction: float
    target_class: str = "PNEUMONIA"  # the class the map explains (the call shown)

    @property
    def text(self) -> str:
        """What the check means for the class that was called, in the probability shown."""
        sign = 1.0 if self.target_class == "PNEUMONIA" else -1.0
        p = np.clip(np.array([self.p_before, self.p_after]), 1e-6, 1 - 1e-6)
        drop = sign * float(np.diff(np.log(p / (1 - p)))[0]) * -1.0  # class logit drop
        if drop >= 1.0:
            meaning = f"the region carries much of the {self.target_class} call"
        elif drop > 0.2:
            meaning = f"the region carries some of the {self.target_class} call; the rest lies elsewhere"
        else:
            meaning = f"the {self.target_class} call does not rest on this region alone"
        return (f"filling the highlighted region in from the film around it changes P(pneumonia) from "
                f"{self.p_before:.2f} to {self.p_after:.2f}: {meaning}")


def blanking_check(predictor: Any, explanation: Explanation, fraction: float = 0.2,
                   fill: str = "infill") -> BlankingCheck:
    """Does the map matter for this film? Fills the map's top `fraction` of the model input
    in from the film around it (`occlusion.infill`, one of the two perturbations the
    faithfulness benchmark measures; `fill="flat"` for the image mean) and scores it: one
    forward pass. Probabilities are calibrated like `Prediction.probability` (the site
    profile's when the predictor has one); `p_before` comes from the map's own forward pass."""
    x = preprocess_batch(explanation.model_input[None], predictor.spec)
    after = class_logits(predictor, FILLS[fill](x, top_mask(explanation.heatmap, fraction)))
    p = predictor.probabilities([explanation.logit, after[0]])
    return BlankingCheck(float(p[0]), float(p[1]), fraction, explanation.target_class)


class CamWriter:
    """Writes, per prediction, the overlay PNG and the raw map for `predict --cam OUTDIR`.

    `<stem>.<method>.png`: the overlay drawn on the model input (the image that was scored,
    upright when the gate corrected it, at the model's input size), so the picture and the
    map share one grid and the file is never read again. `<stem>.<method>.npy` beside it:
    the map itself, float32 in [0, 1], SxS, for checks of one's own.
    """

    def __init__(self, predictor: Any, outdir: str | Path, method: str | None = None, opacity: float = 0.5) -> None:
        method = method or default_method(predictor.bundle.arch)
        if method not in METHODS:  # fail before any image is scored
            raise ValueError(f"unknown saliency method {method!r}; known: {', '.join(METHODS)}")
        self.predictor, self.method, self.opacity = predictor, method, opacity
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)

    def write(self, prediction: Any) -> str:
        """Explains the label the prediction reported (at its threshold) from
        `prediction.model_input`; returns the PNG path (the .npy has the same base name).

        Names come from the input's stem; a pair is never written over files with other
        content (a numbered name is used instead); an identical pair is reused.
        """
        if prediction.model_input is None:
            raise ValueError(f"{prediction.file}: the prediction carries no model input (not read?)")
        exp = explain(self.predictor, prediction.model_input, self.method, target=prediction.label,
                      threshold=prediction.threshold, opacity=self.opacity)
        png, npy = io.BytesIO(), io.BytesIO()
        Image.fromarray(exp.overlay).save(png, format="PNG")
        np.save(npy, exp.heatmap.astype(np.float32))
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(prediction.file).stem).strip("._-")[:80] or "image"
        for i in range(10_000):
            base = self.outdir / f"{stem}.{self.method}{f'-{i}' if i else ''}"
            if _claim({base.with_name(base.name + ".png"): png.getvalue(), base.with_name(base.name + ".npy"): npy.getvalue()}):
                return str(base.with_name(base.name + ".png"))
        raise FileExistsError(f"too many heatmaps named {stem}.{self.method}* in {self.outdir}")


def _claim(files: dict[Path, bytes]) -> bool:
    """Writes each file with exclusive create (never replacing one); True when every path
    now holds its bytes, False when any holds other content (the caller takes a new name)."""
    if any(p.exists() and p.read_bytes() != data for p, data in files.items()):
        return False
    for path, data in files.items():
        try:
            with open(path, "xb") as f:
                f.write(data)
        except FileExistsError:
            if path.read_bytes() != data:
                return False
    return True
