"""A site's own drift reference: a site profile fitted on at least `SITE_SAMPLE_MIN` films
carries its calibration sample, halved by patient into a reference and a null pool and
projected in the model reference's basis, so later batches are compared with the site's
own films rather than with the model's validation data. Stored compactly in the profile's
JSON (float16, base64) with a digest of the basis, so a rebuilt model reference refuses it."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from .drift import MIN_BATCH, SAMPLE_ENCODING, DriftReference, DriftReferenceError, load_reference, split_by_patient
from .mmd import median_bandwidth

__all__ = ["SITE_SAMPLE_MIN", "sample_reference", "reference_for"]

SITE_SAMPLE_MIN = 4 * MIN_BATCH  # two halves (reference, null pool) of at least 40 films


def _encode(z: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(z, dtype="<f2").tobytes()).decode()


def _decode(text: str, shape: tuple[int, int]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f2").reshape(shape).astype(np.float64)


def sample_reference(model_dir: str | Path, features: np.ndarray, logits: np.ndarray | None = None,
                     labels: Sequence[int] | None = None, groups: Sequence[str] | None = None) -> dict | None:
    """A site's calibration sample as a compact, JSON-able drift reference: half its patients
    as the reference, half as the calibrated null's pool, projected in the model reference's
    basis (float16 base64). None when the model ships no reference, or when the sample is too
    small to halve (then the alarm compares batches with the model's validation data)."""
    base = load_reference(model_dir)
    x = np.asarray(features)
    if base is None or labels is None or groups is None or len(x) < SITE_SAMPLE_MIN:
        return None
    ref_idx, null_idx = split_by_patient(labels, groups, seed=0)
    z = base.project(x)
    logits = None if logits is None else np.asarray(logits, np.float64).reshape(-1)
    return {"encoding": SAMPLE_ENCODING, "basis_model_sha256": base.model_sha256,
            "basis_sha256": _basis_digest(base),
            "shape": list(z[ref_idx].shape), "features": _encode(z[ref_idx]),
            "null_shape": list(z[null_idx].shape), "null_features": _encode(z[null_idx]),
            "logits": None if logits is None else [round(float(v), 5) for v in logits[ref_idx]]}


def _basis_digest(reference: DriftReference) -> str:
    """Changes whenever the projection does (a rebuilt reference): a site sample projected in
    another basis must not be compared in this one."""
    h = hashlib.sha256()
    for a in (reference.mean, reference.components, reference.scale):
        h.update(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return h.hexdigest()


def reference_for(model_dir: str | Path, site_profile=None) -> DriftReference | None:
    """The reference a batch is compared with: the site's calibration sample when the
    profile carries one (same basis, its own bandwidth and null pool), else the model's
    validation reference."""
    base = load_reference(model_dir)
    sample = getattr(site_profile, "drift_reference", None)
    if base is None or sample is None:
        return base
    shape, null_shape = tuple(sample.get("shape", ())), tuple(sample.get("null_shape", ()))
    if (sample.get("encoding") != SAMPLE_ENCODING or len(shape) != 2 or shape[1] != len(base.scale)
            or len(null_shape) != 2 or sample.get("basis_sha256") != _basis_digest(base)):
        raise DriftReferenceError(f"site profile {site_profile.name!r} holds a drift sample that does not fit this "
                                  "model's drift reference; calibrate the site again")
    z, null = _decode(sample["features"], shape), _decode(sample["null_features"], null_shape)
    logits = None if sample.get("logits") is None else np.asarray(sample["logits"], np.float64)
    return DriftReference(base.mean, base.components, base.scale, z, logits, median_bandwidth(z), base.level,
                          base.n_permutations, base.model, base.model_sha256,
                          f"site {site_profile.name} ({shape[0] + null_shape[0]} calibration films)", {}, null)
