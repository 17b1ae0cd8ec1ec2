"""The drift alarm: does a batch of films look like the data the operating point was set on?

A kernel two-sample test (RBF-kernel MMD, `mmd`) of the batch's penultimate features against
a reference sample. No labels are needed, so it can run on every batch a site scores. A KS
test of the scores (logits) is reported beside it as information only: the score
distribution moves with prevalence, which is no shift in how the model reads a film.

How it is set up now, and why:
- Features are projected on the training features' first 32 principal components (the basis
  the OOD score keeps) and whitened: a basis fitted on other data cannot favour the
  reference, and whitening lets the weak directions, where acquisition changes show, count.
- The p-value comes from a calibrated null: the MMD^2 of random batches of the same size
  drawn from films of other patients (the null pool), not from shuffling films. One child's
  films sit close together, so a batch that holds a few is more self-similar than a shuffle;
  a permutation null is then too narrow and the alarm fires too often.
- Level 0.05, RBF bandwidth by the median heuristic on the reference, 20 films at least.
These were chosen on validation data only, by the rule in `benchmarks/drift_selection.py`
(`DEFAULT_PROJECTION`; the candidates it compared stay available by name).

A model's reference is built from its validation patients (`drift-reference`): half as the
reference, a quarter as the null pool, a quarter held out (`heldout_files`) to measure false
alarms on films neither has seen. A site profile can carry its own reference
(`site_reference`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import PneumoError
from ..models.metadata import read_metadata
from .mmd import median_bandwidth, mmd_calibrated_test, mmd_permutation_test

__all__ = ["DriftReference", "DriftReferenceError", "build_reference", "build_named_reference", "PROJECTIONS",
           "DEFAULT_PROJECTION", "drift_test", "load_reference", "verdict_text", "split_by_patient",
           "MIN_BATCH", "LEVEL", "N_COMPONENTS", "N_PERMUTATIONS"]

MIN_BATCH = 20        # below this a 50/50 permutation test has little power and the verdict would mislead
LEVEL = 0.05
N_COMPONENTS = 32
N_PERMUTATIONS = 1000
NPZ, JSON = "drift_reference.npz", "drift_reference.json"
RULE = ("shifted when the p-value of the RBF-kernel MMD between the batch's and the reference's projected "
        "penultimate features (median-heuristic bandwidth on the reference) is below the level; the projection "
        "and the null are named beside this rule")
SAMPLE_ENCODING = "float16 little-endian, row-major, base64"
Basis = tuple[np.ndarray, np.ndarray, np.ndarray]  # mean (D,), components (K, D), standard deviation (K,)


class DriftReferenceError(PneumoError, ValueError):
    """A drift reference that cannot be used with these weights or this batch."""


@dataclass
class DriftReference:
    """Everything the test needs, small enough to ship beside the weights."""
    mean: np.ndarray                 # (D,) feature mean of the PCA fit
    components: np.ndarray           # (K, D) PCA basis
    scale: np.ndarray                # (K,) divisor per component: its standard deviation if whitened, else 1
    reference: np.ndarray            # (m, K) the reference films, projected
    logits: np.ndarray | None        # (m,) their source-calibrated logits, for the secondary KS test
    bandwidth: float
    level: float = LEVEL
    n_permutations: int = N_PERMUTATIONS
    model: str = ""
    model_sha256: str = ""
    source: str = "validation data"  # what the reference is, in words
    meta: dict = field(default_factory=dict)  # provenance: heldout_files, reference_files, seed, ...
    null: np.ndarray | None = None   # (p, K) films of other patients, projected: the calibrated null (mmd.mmd_calibrated_test)

    def project(self, features: np.ndarray) -> np.ndarray:
        """Penultimate features (n, D) -> PCA coordinates (n, K)."""
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or x.shape[1] != self.mean.shape[0]:
            raise DriftReferenceError(f"features of shape {x.shape} do not fit a reference of "
                                      f"{self.mean.shape[0]} features per film")
        return (x - self.mean) @ self.components.T / self.scale

    def describe(self) -> dict:
        return {"model": self.model, "model_sha256": self.model_sha256, "source": self.source,
                "n_reference": int(len(self.reference)), "n_components": int(len(self.scale)),
                "whitened": bool(not np.all(self.scale == 1.0)),
                "feature_dim": int(self.mean.shape[0]), "bandwidth": self.bandwidth, "level": self.level,
                "n_permutations": self.n_permutations, "min_batch": MIN_BATCH, "rule": RULE,
                "null": (f"MMD^2 of random batches of {len(self.null)} films of other patients" if self.null is not None
                         else "label permutations")}

    def save(self, directory: str | Path) -> Path:
        """Arrays to drift_reference.npz, metadata to drift_reference.json; returns the JSON path."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        logits = {} if self.logits is None else {"logits": self.logits.astype(np.float32)}
        if self.null is not None:
            logits["null"] = self.null.astype(np.float32)
        np.savez_compressed(d / NPZ, mean=self.mean.astype(np.float32), components=self.components.astype(np.float32),
                            scale=self.scale.astype(np.float64), reference=self.reference.astype(np.float32), **logits)
        (d / JSON).write_text(json.dumps({**self.describe(), **self.meta}, indent=1) + "\n")
        return d / JSON

    @classmethod
    def load(cls, directory: str | Path) -> "DriftReference":
        d = Path(directory)
        info = json.loads((d / JSON).read_text())
        with np.load(d / NPZ) as z:
            arrays = {k: z[k].astype(np.float64) for k in z.files}
        if arrays["reference"].shape != (info["n_reference"], info["n_components"]):
            raise DriftReferenceError(f"{d / NPZ} does not match {d / JSON} (reference shape "
                                      f"{arrays['reference'].shape}); build the reference again")
        own = set(cls.__dataclass_fields__) | {"n_reference", "n_components", "whitened", "feature_dim", "min_batch", "rule"}
        return cls(arrays["mean"], arrays["components"], arrays["scale"], arrays["reference"], arrays.get("logits"),
                   float(info["bandwidth"]), float(info["level"]), int(info["n_permutations"]), info["model"],
                   info["model_sha256"], info["source"], {k: v for k, v in info.items() if k not in own},
                   arrays.get("null"))


def build_reference(features: np.ndarray, logits: np.ndarray | None = None, *, n_components: int = N_COMPONENTS,
                    level: float = LEVEL, n_permutations: int = N_PERMUTATIONS, model: str = "",
                    model_sha256: str = "", source: str = "validation data", meta: dict | None = None,
                    whiten: bool = False, basis: Basis | None = None,
                    null_features: np.ndarray | None = None) -> DriftReference:
    """Projects the reference films' features on a PCA basis (fitted on them, or `basis`,
    fitted elsewhere: mean, components, standard deviation per component) and sets the
    bandwidth on them."""
    x = np.asarray(features, np.float64)
    if not 0.0 < level < 1.0:
        raise DriftReferenceError(f"the level must be strictly between 0 and 1, not {level}")
    if x.ndim != 2 or len(x) < 2 * MIN_BATCH:
        raise DriftReferenceError(f"a drift reference needs at least {2 * MIN_BATCH} films' features, got {x.shape}")
    if basis is None:
        mean = x.mean(0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        sd = s / np.sqrt(len(x) - 1)
        keep = int(min(n_components, (sd > 1e-6 * sd[0]).sum()))  # only directions the reference spans
    else:
        mean, vt, sd = (np.asarray(a, np.float64) for a in basis)
        keep = int(min(n_components, len(vt)))
    scale = sd[:keep] if whiten else np.ones(keep)
    z = (x - mean) @ vt[:keep].T / scale
    null = None if null_features is None else (np.asarray(null_features, np.float64) - mean) @ vt[:keep].T / scale
    return DriftReference(mean, vt[:keep], scale, z,
                          None if logits is None else np.asarray(logits, np.float64).reshape(-1),
                          median_bandwidth(z), level, n_permutations, model, model_sha256, source, dict(meta or {}), null)


PROJECTIONS = ("reference_pca", "reference_pca_whitened", "train_pca", "train_pca_whitened")
# Chosen for both shipped models by the validation-only rule of benchmarks/drift_selection.py
# (round 2; record in benchmarks/results/drift_selection.json).
DEFAULT_PROJECTION = "train_pca_whitened+calibrated_null"


def build_named_reference(projection: str, features: np.ndarray, logits: np.ndarray | None, ood_model,
                          null_features: np.ndarray | None = None, **kwargs) -> DriftReference:
    """A reference by the name its selection uses (`benchmarks/drift_selection.py`):
    `<basis>[_whitened][+calibrated_null]`, where `reference_pca` fits the basis on the
    reference films and `train_pca` takes the training features' basis kept by the OOD score
    (`ood_model`: mean, components, inv_var). `+calibrated_null` needs `null_features`."""
    base, _, null = projection.partition("+")
    if base not in PROJECTIONS or null not in ("", "calibrated_null"):
        raise DriftReferenceError(f"unknown projection {projection!r}; one of {', '.join(PROJECTIONS)}, "
                                  "optionally with +calibrated_null")
    if null and null_features is None:
        raise DriftReferenceError(f"{projection} needs the null pool's features")
    basis = (ood_model.mean, ood_model.components, 1.0 / np.sqrt(ood_model.inv_var)) if base.startswith("train_pca") else None
    ref = build_reference(features, logits, whiten=base.endswith("_whitened"), basis=basis,
                          null_features=null_features if null else None, **kwargs)
    ref.meta["projection"] = projection
    return ref


def drift_test(reference: DriftReference, features: np.ndarray, logits: np.ndarray | None = None,
               seed: int = 0) -> dict:
    """Tests one batch (n films' features, n >= MIN_BATCH) against the reference; JSON-able."""
    x = np.asarray(features, np.float64)
    n = 0 if x.ndim == 0 else len(x)
    if n < MIN_BATCH:
        raise ValueError(f"the drift test needs at least {MIN_BATCH} scored films, got {n}")
    z = reference.project(x)
    tested = n
    if reference.null is None:
        statistic, p = mmd_permutation_test(z, reference.reference, reference.bandwidth, reference.n_permutations, seed)
        null = f"{reference.n_permutations} permutations"
    else:
        if n > len(reference.null) // 2:  # null batches of this size must still differ: test a random subset
            tested = len(reference.null) // 2
            z = z[np.random.default_rng(seed).choice(n, size=tested, replace=False)]
        statistic, p = mmd_calibrated_test(z, reference.reference, reference.null, reference.bandwidth,
                                           reference.n_permutations, seed)
        null = f"{reference.n_permutations} batches of {len(reference.null)} films of other patients"
    ks = None
    if logits is not None and reference.logits is not None:
        from scipy.stats import ks_2samp
        r = ks_2samp(np.asarray(logits, np.float64).reshape(-1), reference.logits)
        ks = {"statistic": float(r.statistic), "p_value": float(r.pvalue)}
    return {"n": n, "tested": tested, "n_reference": int(len(reference.reference)), "statistic": statistic,
            "p_value": p, "level": reference.level, "shifted": bool(p < reference.level),
            "test": (f"RBF-kernel MMD^2 on {len(reference.scale)} PCA components of the penultimate "
                     f"features, null from {null}, shifted when p < {reference.level}"),
            "scores_ks": ks}


def load_reference(model_dir: str | Path) -> DriftReference | None:
    """The model's validation reference, or None when the model ships none. Raises
    DriftReferenceError when it was built for other weights."""
    d = Path(model_dir)
    if not (d / JSON).is_file():
        return None
    ref = DriftReference.load(d)
    meta_file = d / "model.json"
    sha = read_metadata(meta_file).model_sha256 if meta_file.is_file() else None
    if sha and ref.model_sha256 and sha != ref.model_sha256:
        raise DriftReferenceError(f"{d / JSON} was built for weights {ref.model_sha256[:12]}..., not "
                                  f"{sha[:12]}...; run drift-reference again")
    return ref


def verdict_text(result: dict, against: str) -> str:
    """The words shown beside a batch's calls."""
    p = result["p_value"]
    ptext = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    if not result["shifted"]:
        return f"this batch looks like the data the operating point was set on ({against}, {ptext})"
    return (f"this batch differs from the data the operating point was set on ({against}, {ptext}): "
            "calibrate for your site before relying on the calls")


def split_by_patient(labels: Sequence[int], groups: Sequence[str], seed: int = 0,
                     fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(reference indices, held-out indices): whole patients to one side, stratified by
    each patient's majority class, so the held-out half tests the reference honestly."""
    y, g = np.asarray(labels, int), np.asarray(groups)
    patients = sorted(set(g.tolist()))
    majority = {p: int(round(y[g == p].mean())) for p in patients}
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    for cls in sorted(set(majority.values())):
        members = [p for p in patients if majority[p] == cls]
        rng.shuffle(members)
        chosen.update(members[:int(round(fraction * len(members)))])
    in_ref = np.array([p in chosen for p in g.tolist()])
    return np.flatnonzero(in_ref), np.flatnonzero(~in_ref)
