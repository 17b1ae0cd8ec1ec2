"""Commands that rewrite part of a trained model's files without retraining it: re-fit the
out-of-distribution statistics, re-run the calibration choice, and the horizontal-flip
experiment that trains twice and keeps one. Each goes through `models.metadata`'s reader and
writer, like training itself."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..calibration import OperatingPoint
from ..calibration.shift import choose_operating_point
from ..data.dataset import load_resized, manifest_items
from ..evaluation.robustness import shifted_logits
from ..inference.ood import fit_ood, ood_record
from ..models.bundle import load_bundle
from ..models.manifest import restamp_if_in_bundle
from ..models.metadata import ModelMetadata, read_metadata, write_metadata
from .config import TrainConfig
from .train import log, logits_and_features, ood_subset, operating_fields, patient_of, train

__all__ = ["refit_ood", "recalibrate", "train_with_flip_decision", "FLIP_MARGIN"]

FLIP_MARGIN = 0.01  # flips must lower the best validation loss by more than this share


def refit_ood(model_dir: str | Path, data: str | Path, workers: int = 0, seed: int = 0) -> dict:
    """Re-fits a shipped model's OOD statistics from its own split manifest (train features,
    validation thresholds): the weights and everything else stay."""
    bundle = load_bundle(model_dir)
    items = manifest_items(bundle.directory / "split.json", data)
    subset = [items["train"][i] for i in ood_subset(len(items["train"]), seed)]  # the images training used
    device = torch.device("cpu")
    _, train_feats = logits_and_features(bundle.model, load_resized(subset, bundle.spec.size, workers), bundle.spec, device)
    _, val_feats = logits_and_features(bundle.model, load_resized(items["val"], bundle.spec.size, workers), bundle.spec, device)
    ood = fit_ood(train_feats, val_feats)
    ood.save(bundle.directory / "ood.npz")
    write_metadata(replace(bundle.meta, ood=ood_record(ood)), bundle.directory / "model.json")
    restamp_if_in_bundle(bundle.directory / "model.json")
    return ood_record(ood)


def recalibrate(model_dir: str | Path, data: str | Path, workers: int = 0) -> ModelMetadata:
    """Re-runs training's last step, the calibration choice, on a model's own validation
    split; the weights stay. When the choice matches how the operating point was already
    fitted, that fit stays and only the record is added, with the kept point scored beside
    the two fits ('shipped'): refitting would move shipped results with no decision changed.
    Otherwise the operating point is refitted and the evaluations are stale."""
    bundle = load_bundle(model_dir)
    val = manifest_items(bundle.directory / "split.json", data)["val"]
    x_val, y_val = load_resized(val, bundle.spec.size, workers), np.array([it.label for it in val])
    cond_logits = shifted_logits(bundle.model, x_val, bundle.spec)
    meta = bundle.meta
    kept = OperatingPoint(meta.temperature, dict(meta.thresholds))
    point, calibration = choose_operating_point(cond_logits, y_val, patient_of(val, data), {"shipped": kept})
    before = meta.calibration["fitted_on"] if meta.calibration else ["clean"]  # no record: clean, the only way then
    if calibration["fitted_on"] == before:
        meta = replace(meta, calibration={**calibration, "applied": "choice unchanged: the operating point fitted in "
                                                                    "training stays ('shipped' in the scores)"})
    else:
        fields = operating_fields(point, calibration, y_val, cond_logits["clean"])
        fields["calibration"]["applied"] = "refitted: re-run evaluate, the shipped evaluations used the old operating point"
        meta = replace(meta, **fields)
    write_metadata(meta, bundle.directory / "model.json")
    restamp_if_in_bundle(bundle.directory / "model.json")
    return meta


def train_with_flip_decision(cfg: TrainConfig) -> ModelMetadata:
    """Trains with and without horizontal flips and keeps flips only if they clearly lower
    the validation loss: flipping puts the heart on the wrong side, so it must earn its place."""
    results = {}
    for flag in (False, True):
        sub = replace(cfg, out=cfg.out.parent / f"{cfg.out.name}.hflip-{'on' if flag else 'off'}",
                      run_dir=cfg.run_dir.parent / f"{cfg.run_dir.name}.hflip-{'on' if flag else 'off'}",
                      augment=replace(cfg.augment, hflip=flag))
        train(sub)
        results[flag] = (min(h["val_loss"] for h in json.loads((sub.out / "history.json").read_text())), sub.out)
    keep = results[True][0] < (1 - FLIP_MARGIN) * results[False][0]
    decision = {"hflip": keep, "best_val_loss": {"hflip_off": results[False][0], "hflip_on": results[True][0]},
                "rule": f"flips only if they lower the best validation loss by more than {FLIP_MARGIN:.0%}"}
    if cfg.out.exists():
        shutil.rmtree(cfg.out)
    shutil.move(str(results[keep][1]), cfg.out)
    shutil.rmtree(results[not keep][1], ignore_errors=True)
    meta = replace(read_metadata(cfg.out / "model.json"), name=cfg.out.name, hflip_decision=decision)
    write_metadata(meta, cfg.out / "model.json")
    restamp_if_in_bundle(cfg.out / "model.json")
    log(f"[{cfg.arch}] hflip decision: {decision}")
    return meta
