"""Every film's raw logit and pooled features under each shift, computed once and kept on disk.

A label-free operating point is fitted on scores only, so a study's draws need no forward
pass: one pass per film and shift is all the network work there is, and a run that stops
picks up at the next shift (one `.npz` per shift, keyed by the weights and the films).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch

from ..data.preprocess import InputSpec, standardise, to_unit

__all__ = ["ShiftScores", "shifted_scores"]

_CHUNK = 32

ShiftScores = dict[str, dict[str, np.ndarray]]  # shift -> {"logits": (n,), "features": (n, d)}


def _key(model_sha256: str, images_u8: np.ndarray) -> str:
    h = hashlib.sha256(model_sha256.encode())
    h.update(np.ascontiguousarray(images_u8).tobytes())
    return h.hexdigest()[:16]


@torch.inference_mode()
def _score(model: torch.nn.Module, images_u8: np.ndarray, spec: InputSpec, shift: Callable,
           device: torch.device) -> dict[str, np.ndarray]:
    logits, features = [], []
    for i in range(0, len(images_u8), _CHUNK):
        x = standardise(shift(to_unit(torch.from_numpy(images_u8[i:i + _CHUNK]))), spec).to(device)
        f = model.features(x)
        features.append(f.float().cpu())
        logits.append(model.classify(f).squeeze(1).double().cpu())
    return {"logits": torch.cat(logits).numpy(), "features": torch.cat(features).numpy().astype(np.float16)}


def shifted_scores(model: torch.nn.Module, model_sha256: str, images_u8: np.ndarray, spec: InputSpec,
                   shifts: Mapping[str, Callable], *, cache: Path | None = None, device: str = "cpu",
                   progress: Callable[[str], None] | None = None) -> ShiftScores:
    """{shift: {"logits", "features"}} for every film in `images_u8` (uint8, (n, 1, H, W))."""
    model = model.eval().to(torch.device(device))
    key = _key(model_sha256, images_u8)
    out: ShiftScores = {}
    for name, shift in shifts.items():
        path = cache / f"{key}-{name}.npz" if cache is not None else None
        if path is not None and path.is_file():
            with np.load(path) as z:
                out[name] = {k: z[k] for k in z.files}
        else:
            out[name] = _score(model, images_u8, spec, shift, torch.device(device))
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp.npz")
                np.savez(tmp, **out[name])
                tmp.replace(path)
        if progress is not None:
            progress(name)
    return out
