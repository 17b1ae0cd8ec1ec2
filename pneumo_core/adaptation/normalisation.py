"""Batch-norm statistics re-estimated on a site's own unlabelled films (AdaBN, Li et al. 2016).

A network's BatchNorm layers whiten each channel with the mean and variance of the training
films. A site whose films look different (another detector, another processing) moves those
moments, and every later layer sees inputs it was not trained on. Re-estimating the moments
on the site's films, and leaving every weight alone, removes much of such a covariate shift.

Two choices make it hold under label shift too (Vianna et al. 2024): only the last `depth`
normalisation layers are re-estimated (the early ones carry acquisition, not disease), and
each film can carry a weight, so that the moments are those of a film mix with the source's
class balance rather than the site's (`method.prevalence_weights`).
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

__all__ = ["Statistics", "Adjust", "block_sequence", "normalisation_layers", "adapted_layers", "tail_start", "block_inputs",
           "collect_statistics", "apply_statistics", "source_statistics", "mix_statistics", "class_moments"]

Statistics = dict[str, tuple[np.ndarray, np.ndarray]]  # layer name -> (mean, variance), float64
Adjust = Callable[[str, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def block_sequence(model: nn.Module) -> nn.Sequential:
    """The model's sequence of blocks (`_blocks` or `blocks`), where a re-run can start."""
    for name in ("_blocks", "blocks"):
        if isinstance(getattr(model, name, None), nn.Sequential):
            return getattr(model, name)
    raise TypeError(f"{type(model).__name__} has no block sequence to adapt")


def _in_blocks(model: nn.Module) -> list[set[int]]:
    """For each block, the ids of the modules it holds: which block a named layer lies in."""
    return [{id(m) for m in block.modules()} for block in block_sequence(model)]


def normalisation_layers(model: nn.Module) -> list[tuple[str, nn.BatchNorm2d]]:
    """Every BatchNorm2d in forward order (the registration order of both shipped models)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]


def adapted_layers(model: nn.Module, depth: int) -> list[str]:
    """The names of the last `depth` normalisation layers, the stem's excepted: the stem runs
    once per film outside the part that is re-run."""
    layers = normalisation_layers(model)
    in_blocks = set().union(*_in_blocks(model))
    first_block_layer = next((i for i, (_, m) in enumerate(layers) if id(m) in in_blocks), 0)
    names = [n for n, _ in layers[first_block_layer:]]
    return names[-depth:] if depth > 0 else []


def tail_start(model: nn.Module, layers: list[str]) -> int:
    """Index of the first block holding an adapted layer (len(blocks) when only the head's are)."""
    modules = dict(model.named_modules())
    wanted = {id(modules[n]) for n in layers}
    blocks = _in_blocks(model)
    return next((i for i, held in enumerate(blocks) if held & wanted), len(blocks))


@torch.no_grad()
def block_inputs(model: nn.Module, films: torch.Tensor, start: int) -> torch.Tensor:
    """The input of `blocks[start]` for standardised `films` (B, C, S, S), through the unadapted prefix."""
    return block_sequence(model)[:start](model.stem(films))


def _weighted_moments(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and variance over films (weighted) and positions (equally). Each
    film's first and second moments are taken in the tensor's own precision (no float64
    copy of a 112x112 feature map), then combined in float64."""
    w = (w / w.sum()).to(x.device, torch.float64).view(-1, 1)
    first = x.mean(dim=(2, 3)).double()
    second = (x * x).mean(dim=(2, 3)).double()
    mean = (w * first).sum(0)
    return mean, ((w * second).sum(0) - mean ** 2).clamp_min(0.0)


@torch.no_grad()
def collect_statistics(model: nn.Module, h: torch.Tensor, start: int, layers: list[str],
                       weights: np.ndarray | None = None, adjust: Adjust | None = None) -> Statistics:
    """Moments of each layer in `layers`, measured on the films whose block-`start` inputs
    are `h`, each layer seeing the earlier ones already re-normalised (as one train-mode
    pass over the batch would, but with film weights). `adjust(name, mean, var)` corrects a
    layer's moments before the later layers see them. `model` is left as it was."""
    model.eval()
    wanted = set(layers)
    w = torch.ones(len(h)) if weights is None else torch.as_tensor(np.asarray(weights, np.float64))
    found: Statistics = {}
    saved = {n: (m.running_mean.clone(), m.running_var.clone()) for n, m in normalisation_layers(model) if n in wanted}
    hooks = []

    def hook(name: str):
        def pre(module: nn.BatchNorm2d, inputs: tuple[torch.Tensor]) -> None:
            mean, var = _weighted_moments(inputs[0], w)
            mean, var = mean.cpu().numpy(), var.cpu().numpy()
            if adjust is not None:
                mean, var = adjust(name, mean, var)
            module.running_mean.copy_(torch.as_tensor(mean))
            module.running_var.copy_(torch.as_tensor(var))
            found[name] = (np.array(mean, np.float64), np.array(var, np.float64))
        return pre

    try:
        for n, m in normalisation_layers(model):
            if n in wanted:
                hooks.append(m.register_forward_pre_hook(hook(n)))
        model.features_from(h, start)
    finally:
        for hk in hooks:
            hk.remove()
        for n, m in normalisation_layers(model):
            if n in saved:
                m.running_mean.copy_(saved[n][0])
                m.running_var.copy_(saved[n][1])
    missing = wanted - set(found)
    if missing:
        raise ValueError(f"layers not reached from block {start}: {sorted(missing)[:3]}")
    return found


def source_statistics(model: nn.Module, layers: list[str]) -> Statistics:
    """The moments the model was trained with."""
    own = dict(normalisation_layers(model))
    return {n: (own[n].running_mean.double().cpu().numpy(), own[n].running_var.double().cpu().numpy())
            for n in layers}


def mix_statistics(source: Statistics, site: Statistics, share: float) -> Statistics:
    """`share` of the site's moments and the rest of the source's (Schneider et al. 2020)."""
    return {n: ((1 - share) * source[n][0] + share * site[n][0], (1 - share) * source[n][1] + share * site[n][1])
            for n in site}


def apply_statistics(model: nn.Module, statistics: Statistics) -> nn.Module:
    """Writes the moments into `model`'s layers in place (unfused model only) and returns it."""
    own = dict(normalisation_layers(model))
    unknown = set(statistics) - set(own)
    if unknown:
        raise ValueError(f"the model has no normalisation layers {sorted(unknown)[:3]}")
    for name, (mean, var) in statistics.items():
        layer = own[name]
        if np.shape(mean) != tuple(layer.running_mean.shape) or np.shape(var) != tuple(layer.running_var.shape):
            raise ValueError(f"statistics for {name} have the wrong size")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(np.asarray(var) >= 0)):
            raise ValueError(f"statistics for {name} are not finite, or a variance is negative")
        layer.running_mean.copy_(torch.as_tensor(np.asarray(mean), dtype=layer.running_mean.dtype))
        layer.running_var.copy_(torch.as_tensor(np.asarray(var), dtype=layer.running_var.dtype))
    return model


@torch.no_grad()
def class_moments(model: nn.Module, batches: Iterable[tuple[torch.Tensor, np.ndarray]], layers: list[str]) -> dict:
    """Per-class, per-channel mean and variance of each layer's input under the model's own
    moments, accumulated over `(standardised films, labels)` batches (exact: nothing adapts)."""
    model.eval()
    sums: dict[str, np.ndarray] = {}  # name -> (class, 3, channels): count, sum, sum of squares
    wanted, hooks, labels_now = set(layers), [], {}

    def hook(name: str):
        def pre(module: nn.BatchNorm2d, inputs: tuple[torch.Tensor]) -> None:
            x = inputs[0].double()
            acc = sums.setdefault(name, np.zeros((2, 3, x.shape[1])))
            for c in (0, 1):
                xc = x[torch.as_tensor(labels_now["y"] == c, device=x.device)]
                acc[c, 0] += xc.shape[0] * xc.shape[2] * xc.shape[3]
                acc[c, 1] += xc.sum(dim=(0, 2, 3)).cpu().numpy()
                acc[c, 2] += (xc ** 2).sum(dim=(0, 2, 3)).cpu().numpy()
        return pre

    try:
        for n, m in normalisation_layers(model):
            if n in wanted:
                hooks.append(m.register_forward_pre_hook(hook(n)))
        for x, y in batches:
            labels_now["y"] = np.asarray(y)
            model.features(x)
    finally:
        for hk in hooks:
            hk.remove()
    out = {}
    for name, acc in sums.items():
        mean = acc[:, 1] / acc[:, 0]
        out[name] = {"mean": mean, "var": acc[:, 2] / acc[:, 0] - mean ** 2}
    return out
