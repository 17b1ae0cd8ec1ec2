"""Sanity and faithfulness checks for saliency maps, from the literature: model
randomisation (Adebayo et al. 2018: a map that survives re-initialised weights shows image
structure, not what the model learnt), deletion against random blanking, and deletion and
insertion curves (Petsiuk et al. 2018, RISE). The tests and the benchmarks call the same
functions, so they report the same figures.

Faithfulness (`film_baseline` + `score_map`, used by `benchmarks/saliency_faithfulness.py`):
the class explained is the class the product shows; a film's class score is the logit
signed towards that class. Each film is perturbed two ways (`inference.occlusion.FILLS`):
`flat` (the image mean) and `infill` (from the unblanked film around each pixel, which stays
on the film); the app's check line uses the same functions, so it and these figures agree.
- top vs random grid: blank the map's top `fraction`; blank `draws` random sets of whole
  cells of a `grid` x `grid` partition covering the same share; the map wins when the top
  blanking lowers the class score more than the random ones do on average. Whole cells keep
  the random baseline as blocky as an upsampled CAM (scattered pixels are a harsher
  perturbation than any compact region).
- deletion: P(class) as the top 0, 10, ..., 100% of the map is blanked (area under the curve:
  lower is better); insertion: P(class) as those pixels are restored into a blurred copy
  (Gaussian, sigma 5 px at 224, RISE's setting; higher is better). The blurred start removes
  texture and small opacities but keeps the film's look, so it is not out of distribution the
  way a flat grey field is.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, ImageFilter

from ..calibration import calibrated
from ..data.preprocess import preprocess_batch
from ..inference.occlusion import FILLS, blank, cell_masks, class_logits, top_mask
from ..inference.saliency import explain
from ..io.ingest import load

__all__ = ["deletion_check", "randomisation_check", "sanity_checks", "random_grid_masks", "FilmBaseline",
           "film_baseline", "score_map", "filled_logit"]

GRID = 14
FRACTION = 0.2
DRAWS = 5
STEPS = 10
BLUR_SIGMA_AT_224 = 5.0


def random_grid_masks(size: int, fraction: float, rng: np.random.Generator, draws: int = DRAWS,
                      grid: int = GRID) -> np.ndarray:
    """(draws, size, size) bool: each a random set of whole cells of a grid x grid partition,
    round(fraction x grid^2) cells (39 of 196 at 20%)."""
    cells = cell_masks(size, grid)
    k = int(round(fraction * grid * grid))
    return np.stack([cells[rng.choice(len(cells), k, replace=False)].any(axis=0) for _ in range(draws)])


@dataclass
class FilmBaseline:
    """What every map of one film is compared with: computed once per film."""
    model_input: np.ndarray    # uint8 SxS
    x: torch.Tensor            # (1, C, S, S) standardised
    blurred: torch.Tensor      # (1, C, S, S) the insertion curve's start
    target_class: str          # the class the product shows (explained by every map)
    sign: float                # +1 for PNEUMONIA, -1 for NORMAL: class score = sign x logit
    logit: float               # raw logit of the film as given
    random_logits: np.ndarray  # (draws,) raw logits with random grid cells blanked flat
    end_logits: tuple[float, float]  # (all blanked: deletion's end, blurred: insertion's start)
    random_logits_infill: np.ndarray | None = None  # (draws,) the same cells filled in (`infill`)


def film_baseline(predictor: Any, model_input: np.ndarray, rng: np.random.Generator, threshold: str | float | None = None,
                  fraction: float = FRACTION, draws: int = DRAWS, grid: int = GRID) -> FilmBaseline:
    """One film's unperturbed, randomly blanked (both fills) and end-point scores (2 x draws + 3
    forward passes)."""
    model_input = np.asarray(model_input, dtype=np.uint8)
    size = model_input.shape[-1]
    x = preprocess_batch(model_input[None], predictor.spec)
    sigma = BLUR_SIGMA_AT_224 * size / 224
    blurred = preprocess_batch(np.array(Image.fromarray(model_input).filter(ImageFilter.GaussianBlur(sigma)))[None],
                               predictor.spec)
    everything = np.ones((size, size), dtype=bool)
    random = random_grid_masks(size, fraction, rng, draws, grid)
    z = class_logits(predictor, torch.cat([x, blank(x, random), blank(x, everything), blurred,
                                           FILLS["infill"](x, random)]))
    label = predictor.label(float(predictor.probabilities(z[:1])[0]), predictor.threshold(threshold))
    return FilmBaseline(model_input, x, blurred, label, 1.0 if label == "PNEUMONIA" else -1.0, float(z[0]),
                        z[1:1 + draws], (float(z[1 + draws]), float(z[2 + draws])), z[3 + draws:])


def score_map(predictor: Any, base: FilmBaseline, heatmap: np.ndarray, fraction: float = FRACTION,
              steps: int = STEPS) -> dict:
    """Faithfulness of one map of `base`'s film, for its shown class (3 x (steps - 1) forward
    passes; `fraction` must be a multiple of 1/steps, whose deletion step it reuses).

    Returns: class-score drops (top blanked flat, mean of the random grid draws), whether top
    wins, the deletion and insertion curves of P(class) at fractions 0, 1/steps, ..., 1 and
    their areas; under "infill", the same top-vs-random figures and deletion curve with the
    pixels filled in from the film around them (all pixels masked: the image mean, as flat).
    """
    k_top = round(fraction * steps)
    if not np.isclose(k_top, fraction * steps):
        raise ValueError(f"fraction {fraction} is not a multiple of 1/{steps}")
    masks = np.stack([top_mask(heatmap, k / steps) for k in range(1, steps)])
    inserted = base.blurred.expand(len(masks), -1, -1, -1).clone()
    m = torch.from_numpy(masks)[:, None].expand_as(inserted)
    inserted[m] = base.x.expand_as(inserted)[m]
    n = steps - 1
    z = class_logits(predictor, torch.cat([blank(base.x, masks), inserted, FILLS["infill"](base.x, masks)]))
    deletion_z = np.concatenate([[base.logit], z[:n], [base.end_logits[0]]])
    insertion_z = np.concatenate([[base.end_logits[1]], z[n:2 * n], [base.logit]])
    infill_z = np.concatenate([[base.logit], z[2 * n:], [base.end_logits[0]]])
    t = predictor.bundle.temperature
    deletion, insertion = calibrated(base.sign * deletion_z, t), calibrated(base.sign * insertion_z, t)
    infill_deletion = calibrated(base.sign * infill_z, t)
    dx = 1.0 / steps
    out = {**_top_vs_random(base, deletion_z[k_top], base.random_logits),
           "deletion": [float(v) for v in deletion], "insertion": [float(v) for v in insertion],
           "deletion_auc": float(np.trapezoid(deletion, dx=dx)), "insertion_auc": float(np.trapezoid(insertion, dx=dx))}
    if base.random_logits_infill is not None:
        out["infill"] = {**_top_vs_random(base, infill_z[k_top], base.random_logits_infill),
                         "deletion": [float(v) for v in infill_deletion],
                         "deletion_auc": float(np.trapezoid(infill_deletion, dx=dx))}
    return out


def _top_vs_random(base: FilmBaseline, top_logit: float, random_logits: np.ndarray) -> dict:
    top_drop = float(base.sign * (base.logit - top_logit))
    random_drop = float(np.mean(base.sign * (base.logit - random_logits)))
    return {"top_drop": top_drop, "random_drop": random_drop, "top_beats_random": bool(top_drop > random_drop)}


def filled_logit(predictor: Any, model_input: np.ndarray, heatmap: np.ndarray, fraction: float = FRACTION,
                 fill: str = "infill") -> float:
    """The raw logit of the film with the map's top `fraction` filled in (`inference.occlusion.FILLS`):
    the heatmap check's one forward pass, kept as a logit because the probability saturates
    (`reporting.region_check` judges it)."""
    x = preprocess_batch(np.asarray(model_input, dtype=np.uint8)[None], predictor.spec)
    return float(class_logits(predictor, FILLS[fill](x, top_mask(heatmap, fraction)))[0])


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
        exp = explain(predictor, pixels, method, target="PNEUMONIA")
        heat = exp.heatmap.ravel()
        k = int(round(fraction * heat.size))
        order = np.argsort(-heat, kind="stable")
        masks = np.zeros((3, heat.size), dtype=bool)  # top, scattered random, bottom
        for row, idx in enumerate((order[:k], rng.choice(heat.size, k, replace=False), order[-k:])):
            masks[row, idx] = True
        x = preprocess_batch(exp.model_input[None], predictor.spec)
        z = class_logits(predictor, torch.cat([x, blank(x, masks.reshape(3, *exp.heatmap.shape))]))
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
