"""Sanity checks for saliency maps, from the literature: model randomisation (Adebayo et al.
2018: a map that survives re-initialised weights shows image structure, not what the model
learnt) and deletion (Petsiuk et al. 2018: blanking the most relevant pixels should hurt the
score more than blanking others). The tests and the benchmark call the same functions, so
they report the same figures."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..calibration import calibrated
from ..data.preprocess import preprocess
from ..inference.saliency import explain
from ..io.ingest import load

__all__ = ["deletion_check", "randomisation_check", "sanity_checks"]


def _logits(predictor: Any, x: torch.Tensor) -> np.ndarray:
    with predictor.lock, torch.inference_mode():
        return predictor.model(x.to(predictor.device)).squeeze(1).double().cpu().numpy()


def deletion_check(predictor: Any, images: Sequence[np.ndarray], fraction: float = 0.2, method: str = "gradcam",
                   seed: int = 0) -> dict:
    """Does blanking the top-`fraction` PNEUMONIA-map pixels lower P(pneumonia) more than
    blanking a random `fraction`? Pixels are set to the image's own mean: that removes local
    content without darkening the film, whereas 0 (black, like aerated lung) would itself
    push towards NORMAL wherever it lands. Drops are also given in logits, because
    calibrated probabilities of confident calls sit near 1 and hide the effect; blanking
    the bottom `fraction` is a control (a map with any signal should drop less there)."""
    rng = np.random.default_rng(seed)
    drops = []  # per image: (prob, logit) drops for top-k, random-k, bottom-k blanked
    for pixels in images:
        heat = explain(predictor, pixels, method, target="PNEUMONIA").heatmap.ravel()
        k = int(round(fraction * heat.size))
        order = np.argsort(-heat, kind="stable")
        x = preprocess(pixels, predictor.spec)
        batch = x.repeat(4, 1, 1, 1)  # original, then the three blanked copies
        flat = batch.view(4, batch.shape[1], -1)
        for row, idx in enumerate((order[:k], rng.choice(heat.size, k, replace=False), order[-k:]), start=1):
            flat[row, :, torch.from_numpy(idx)] = x.mean()
        z = _logits(predictor, batch)
        p = calibrated(z, predictor.bundle.temperature)
        drops.append([(p[0] - p[i], z[0] - z[i]) for i in (1, 2, 3)])
    d = np.array(drops)  # (images, {top, random, bottom}, {prob, logit})
    out = {"n": len(d), "fraction": fraction, "fill": "image mean", "method": method}
    for j, name in enumerate(("top", "random", "bottom")):
        out[f"mean_prob_drop_{name}"] = float(d[:, j, 0].mean())
        out[f"mean_logit_drop_{name}"] = float(d[:, j, 1].mean())
        out[f"median_logit_drop_{name}"] = float(np.median(d[:, j, 1]))
    out["share_top_beats_random"] = float((d[:, 0, 1] > d[:, 1, 1]).mean())
    return out


def randomisation_check(predictor: Any, images: Sequence[np.ndarray], method: str = "gradcam", seed: int = 0) -> dict:
    """Mean Spearman correlation between the trained model's maps and those of the same
    architecture with re-initialised weights (same class explained). A map that survives
    randomisation shows image structure, not what the model learnt. A constant map (no
    positive evidence) has no ranking and counts as correlation 0."""
    from scipy.stats import spearmanr

    from ..inference.predictor import Predictor
    from ..models.bundle import ModelBundle
    from ..models.registry import create_model

    with torch.random.fork_rng():  # leave the caller's RNG stream alone
        torch.manual_seed(seed)
        fresh = create_model(predictor.bundle.arch, predictor.spec)
    b = predictor.bundle
    randomised = Predictor(ModelBundle(f"{b.name}-randomised", fresh, b.meta, b.directory), device=str(predictor.device), gate=False)
    rhos, constant = [], 0
    for pixels in images:
        trained = explain(predictor, pixels, method)
        other = explain(randomised, pixels, method, target=trained.target_class).heatmap
        if np.ptp(other) == 0 or np.ptp(trained.heatmap) == 0:
            rhos.append(0.0)
            constant += 1
        else:
            rhos.append(float(spearmanr(trained.heatmap.ravel(), other.ravel())[0]))
    return {"n": len(rhos), "method": method, "mean_spearman": float(np.mean(rhos)),
            "max_spearman": float(np.max(rhos)), "constant_maps": constant}


def sanity_checks(predictor: Any, pneumonia_files: Sequence[str | Path], n: int = 20, seed: int = 0,
                  method: str = "gradcam") -> dict:
    """Both checks on `n` correctly called PNEUMONIA images drawn with a fixed seed, so the
    tests and the benchmark report the same figures."""
    files = sorted(str(f) for f in pneumonia_files)
    np.random.default_rng(seed).shuffle(files)
    images = []
    for pred in predictor.predict_sources(((f, f) for f in files[:2 * n]), batch_size=n):
        if pred.label == "PNEUMONIA" and len(images) < n:
            images.append(load(pred.file).pixels)
    return {"model": predictor.name, "images": len(images),
            "deletion": deletion_check(predictor, images, method=method, seed=seed),
            "randomisation": randomisation_check(predictor, images, method=method, seed=seed)}
