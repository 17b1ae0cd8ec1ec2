"""Fit a model's orientation head and its far-out-of-distribution limits, beside its weights.

    python -m pneumo_core.training.orientation --model efficientnet_lite0 --data /work/shared/data/chest_xray

Writes `weights/<model>/orientation.npz` (the head, read by `inference.orientation`) and
`orientation.json` (the record: classes, validation accuracy per transform, the rules and
the far-OOD limits read by `inference.gate`).

What is fitted on what (the test split is never read):

- Training: `n_train` (1000) films drawn (seeded, both classes) from the model's TRAINING split,
  each under all 8 transforms; features standardised with their training mean and std;
  a multinomial logistic regression (scikit-learn, lbfgs).
- Validation, the model's own (`split.json` "val", all 642 films by default): the L2 strength
  C from `C_GRID` (best accuracy over `n_val` films x 8 transforms; ties to the stronger penalty); then the
  confidence level from `CONFIDENCE_GRID` by a rule fixed before it ran: the lowest level
  at which no validation film ends up "corrected" into anything but upright (the
  decision of `assess_batch`, simulated exactly: undoing a guess leaves another of the 8
  transforms of the same film, whose features are already computed).
- Far out of distribution (tier 1 of `inference.gate`), by a rule fixed a priori: each of
  the two OOD terms (`OODModel.terms`) limited at FAR_OOD_MARGIN (2) times its largest
  value over ALL the model's upright validation films. The usual flag sits at the 99.5th
  percentile; this one should never fire on a film like those the model was tuned on.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.dataset import CLASSES, Item, load_resized, manifest_items
from ..inference.gate import FAR_OOD_MARGIN, FAR_OOD_RULE
from ..inference.orientation import TRANSFORMS, OrientationHead, apply, assess_batch, compose_undo

__all__ = ["fit_orientation", "C_GRID", "CONFIDENCE_GRID", "main"]

C_GRID = (0.01, 0.1, 1.0, 10.0)
CONFIDENCE_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
CONFIDENCE_RULE = ("lowest level in {grid} at which no validation film (n_val films x 8 transforms) is "
                   "corrected into anything but upright")


def _sample(keys: list[str], n: int, seed: int) -> list[str]:
    """n keys, seeded, in proportion to the classes."""
    rng = random.Random(seed)
    out = []
    for cls in CLASSES:
        members = sorted(k for k in keys if Path(k).parent.name == cls)
        out += rng.sample(members, min(len(members), round(n * len(members) / len(keys))))
    return sorted(out)


def _all_transforms(predictor, images_u8: np.ndarray) -> np.ndarray:
    """(N, S, S) -> features (N, 8, D) of every transform of every film."""
    return np.stack([predictor.features(apply(images_u8, t.index)) for t in TRANSFORMS], axis=1)


def simulate(head: OrientationHead, feats8: np.ndarray) -> dict:
    """`assess_batch`'s outcome for every film under every transform, from (N, 8, D)
    features alone (undoing a guess leaves another transform of the same film)."""
    n = len(feats8)
    idx, prob = head.predict(feats8.reshape(n * 8, -1))
    idx, prob = idx.reshape(n, 8), prob.reshape(n, 8)
    up = idx == 0  # predicted upright, per film and transform
    counts = {t.name: {"upright": 0, "corrected": 0, "corrected_wrongly": 0, "withheld": 0} for t in TRANSFORMS}
    for i in range(n):
        for t in range(8):
            c = counts[TRANSFORMS[t].name]
            g = idx[i, t]
            if g == 0:
                c["upright"] += 1
            elif prob[i, t] < head.confidence:
                c["withheld"] += 1
            else:
                left = compose_undo(t, int(g))
                if up[i, left]:
                    c["corrected" if left == 0 else "corrected_wrongly"] += 1
                else:
                    c["withheld"] += 1
    return counts


def fit_orientation(model: str | Path, data_root: str | Path, n_train: int = 1000, n_val: int = 642,
                    seed: int = 0, write: bool = True, cache: str | Path | None = None) -> dict:
    """Fit and (with `write`) save the head beside `model`'s weights; returns the record.

    `cache`: an .npz to keep the extracted features in (and reuse them from, when it exists
    and was made with the same model, films and seed)."""
    from ..inference.predictor import Predictor

    t0 = time.perf_counter()
    predictor = Predictor(model, gate=False)  # the head being fitted must not judge its own training films
    d = predictor.bundle.directory
    films = _Films.sample(d, Path(data_root), n_train, n_val, seed)
    val_u8 = load_resized(films.val, predictor.spec.size)
    f_train, f_val_up, f_val8 = _features(predictor, films, val_u8, cache)
    t_features = time.perf_counter() - t0

    fit = _fit_classifier(f_train, f_val8)
    make = lambda conf: OrientationHead(fit.mean, fit.scale, fit.clf.coef_.astype(np.float64),  # noqa: E731
                                        fit.clf.intercept_.astype(np.float64), conf, predictor.bundle.meta.model_sha256)
    by_conf = {conf: simulate(make(conf), f_val8) for conf in CONFIDENCE_GRID}
    wrong = lambda counts: sum(v["corrected_wrongly"] + (v["corrected"] if k == "upright" else 0)  # noqa: E731
                               for k, v in counts.items())
    ok = [c for c in CONFIDENCE_GRID if wrong(by_conf[c]) == 0]
    confidence = ok[0] if ok else CONFIDENCE_GRID[-1]
    head = make(confidence)

    # every upright validation film through the real decision (confirmation included)
    up = assess_batch(head, val_u8, lambda u8: predictor.features(u8), features=f_val_up)
    up_status = {s: sum(a.status == s for a in up) for s in ("upright", "corrected", "withheld")}
    record = {
        "method": "multinomial logistic regression on standardised penultimate features, predicting which of 8 "
                  "transforms (4 quarter turns x normal/inverted grey levels) was applied to an upright film "
                  "(self-supervised rotation prediction, Gidaris et al. 2018)",
        "classes": [t.name for t in TRANSFORMS],
        "corrections": [t.correction for t in TRANSFORMS],
        "trained_on": {"split": "train (split.json)", "films": len(films.train), "examples": fit.examples, "seed": seed},
        "validated_on": {"split": "val (split.json)", "films_x8": len(films.val8_positions),
                         "films_upright": len(films.val)},
        "C": fit.best_c, "C_grid_validation_accuracy": {str(c): round(a, 4) for c, a in fit.by_c.items()},
        "C_rule": "highest validation accuracy over films x 8 transforms; ties to the smaller C",
        "validation_accuracy": round(fit.by_c[fit.best_c], 4),
        "validation_accuracy_per_transform": {k: round(v, 4) for k, v in fit.per_transform.items()},
        "confidence": confidence,
        "confidence_rule": CONFIDENCE_RULE.format(grid=list(CONFIDENCE_GRID)),
        "confidence_grid_wrong_corrections": {str(c): wrong(v) for c, v in by_conf.items()},
        "validation_outcomes": by_conf[confidence],
        "validation_upright_films": {"n": len(films.val), **up_status},
        "rule": ("film as given predicted upright -> score it; otherwise, at probability >= confidence, undo the "
                 "predicted transform and score the corrected film if the head then reads it as upright; "
                 "else withhold the call"),
        "far_ood": _far_ood_record(d, f_val_up, f_val8),
        "seconds": {"features": round(t_features, 1), "total": round(time.perf_counter() - t0, 1)},
    }
    if write:
        head.save(d, record)
        from ..models.manifest import write_manifest
        write_manifest(d)
    return record


@dataclass
class _Films:
    """The model's own training and validation films (its split.json) that the head sees."""
    train: list[Item]
    val: list[Item]              # every validation film, upright
    val8_positions: list[int]    # the validation films also shown under all 8 transforms

    @classmethod
    def sample(cls, model_dir: Path, data_root: Path, n_train: int, n_val: int, seed: int) -> "_Films":
        items = manifest_items(model_dir / "split.json", data_root)
        by_key = {it.key: it for side in items.values() for it in side}
        train_keys = _sample([it.key for it in items["train"]], n_train, seed)
        val_keys = sorted(it.key for it in items["val"])
        val8_keys = _sample(val_keys, n_val, seed + 1)
        return cls([by_key[k] for k in train_keys], [by_key[k] for k in val_keys],
                   [val_keys.index(k) for k in val8_keys])


def _features(predictor, films: _Films, val_u8: np.ndarray,
              cache: str | Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training films x 8 transforms, validation films upright, sampled validation films x 8), each (.., D)."""
    if cache is not None and Path(cache).is_file():  # features of these same films, from an earlier run
        with np.load(cache) as z:
            return z["train"], z["val_up"], z["val8"]
    f_train = _all_transforms(predictor, load_resized(films.train, predictor.spec.size))  # (n, 8, D)
    f_val_up = predictor.features(val_u8)
    pos = films.val8_positions
    rest = np.stack([predictor.features(apply(val_u8[pos], t.index)) for t in TRANSFORMS[1:]], axis=1)
    f_val8 = np.concatenate([f_val_up[pos][:, None], rest], axis=1)  # (n_val, 8, D)
    if cache is not None:
        np.savez(cache, train=f_train, val_up=f_val_up, val8=f_val8)
    return f_train, f_val_up, f_val8


@dataclass
class _Fit:
    clf: object
    mean: np.ndarray
    scale: np.ndarray
    best_c: float
    by_c: dict
    per_transform: dict
    examples: int


def _fit_classifier(f_train: np.ndarray, f_val8: np.ndarray) -> _Fit:
    """The 8-way logistic regression on standardised features, C chosen on validation accuracy."""
    from sklearn.linear_model import LogisticRegression

    D = f_train.shape[-1]
    x, y = f_train.reshape(-1, D).astype(np.float64), np.tile(np.arange(8), len(f_train))
    xv, yv = f_val8.reshape(-1, D).astype(np.float64), np.tile(np.arange(8), len(f_val8))
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    zs, zv = (x - mean) / scale, (xv - mean) / scale
    by_c, fits = {}, {}
    for c in C_GRID:
        clf = LogisticRegression(C=c, max_iter=3000).fit(zs, y)
        fits[c], by_c[c] = clf, float((clf.predict(zv) == yv).mean())
    best_c = max(C_GRID, key=lambda c: (by_c[c], -c))
    pred = fits[best_c].predict(zv)
    per_transform = {t.name: float((pred[yv == t.index] == t.index).mean()) for t in TRANSFORMS}
    return _Fit(fits[best_c], mean, scale, best_c, by_c, per_transform, int(len(y)))


def _far_ood_record(model_dir: Path, f_val_up: np.ndarray, f_val8: np.ndarray) -> dict:
    """The far-OOD limits: a margin over the validation films' largest OOD terms."""
    from ..inference.ood import OODModel

    ood = OODModel.load(model_dir / "ood.npz")
    inside, residual = ood.terms(f_val_up)
    val_max = [float(inside.max()), float(residual.max())]
    limits = [FAR_OOD_MARGIN * v for v in val_max]
    rotated_far = [ood.terms(f_val8[:, t].astype(np.float64)) for t in range(1, 8)]
    return {"rule": FAR_OOD_RULE, "margin": FAR_OOD_MARGIN, "validation_max": val_max, "limits": limits,
            "validation_films": len(f_val_up),
            "validation_transformed_films_over_limit": {
                TRANSFORMS[t + 1].name: float(((a > limits[0]) | (b > limits[1])).mean())
                for t, (a, b) in enumerate(rotated_far)}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Fit a model's orientation/polarity head and far-OOD limits.")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--data", required=True, type=Path, help="dataset root (train/NORMAL, train/PNEUMONIA, ...)")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-val", type=int, default=642)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="keep/reuse the extracted features in this .npz")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    record = fit_orientation(args.model, args.data, args.n_train, args.n_val, args.seed, cache=args.cache)
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
