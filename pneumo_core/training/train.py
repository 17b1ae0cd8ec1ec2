"""Training: patient-grouped validation, class-weighted BCE, AdamW, warmup + cosine
decay, early stopping with restore of the best epoch, then temperature, thresholds
(on clean validation, or pooled with its simulated shifts where that generalises better:
`shift_calibration`) and out-of-distribution statistics fitted on validation. Checkpoints every epoch
under `run_dir`, so an interrupted run resumes where it stopped."""
from __future__ import annotations

import json
import math
import os
import platform
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from ..calibration import THRESHOLD_RULES, OperatingPoint, calibrated
from ..calibration.shift import choose_operating_point
from ..data.dataset import (CLASSES, Item, class_counts, duplicates_file, grouped_split, load_resized, manifest_hash,
                            patient_groups, read_duplicate_groups, scan_split)
from ..data.preprocess import preprocess_batch
from ..evaluation.robustness import shifted_logits
from ..inference.ood import fit_ood, ood_record
from ..models.bundle import save_bundle, sha256_file
from ..models.manifest import write_manifest
from ..models.metadata import ModelMetadata
from ..models.registry import REGISTRY, create_model
from ..stats.metrics import point_metrics
from .config import TrainConfig
from .loop import Run, epoch_auc, log, log_epoch, result_config, should_stop, train_epoch

__all__ = ["train", "hardware_name", "result_config", "should_stop", "operating_fields", "ood_subset",
           "logits_and_features", "patient_of", "log"]


def hardware_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or 'CPU'} ({os.cpu_count()} cores)"


def _pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def logits_and_features(model: torch.nn.Module, images_u8: np.ndarray, spec, device, batch: int = 128):
    model.eval()
    logits, feats = [], []
    for i in range(0, len(images_u8), batch):
        x = preprocess_batch(images_u8[i:i + batch], spec).to(device)
        f = model.features(x)
        logits.append(model.classify(f))
        feats.append(f)
    return torch.cat(logits).squeeze(1).double().cpu().numpy(), torch.cat(feats).float().cpu().numpy()


def _split(cfg: TrainConfig) -> tuple[list, list, dict]:
    items = scan_split(cfg.data, "train")
    if cfg.limit_per_class:
        items = [it for label in range(len(CLASSES)) for it in [i for i in items if i.label == label][:cfg.limit_per_class]]
    dup_file = duplicates_file(cfg.data)
    dups = read_duplicate_groups(dup_file)
    train_items, val_items = grouped_split(items, cfg.val_fraction, cfg.seed, dups)
    if cfg.include_official_val and (cfg.data / "val").is_dir():
        official = scan_split(cfg.data, "val")
        # a child (or duplicated film) of the official val must not stay on the train side
        group = patient_groups(items + official, dups)
        joined = {group[it.key] for it in official}
        val_items += official + [it for it in train_items if group[it.key] in joined]
        train_items = [it for it in train_items if group[it.key] not in joined]
    manifest = {"seed": cfg.seed, "val_fraction": cfg.val_fraction,
                "duplicates": {"groups": len(dups), "sha256": sha256_file(dup_file) if dup_file.is_file() else None},
                "train": sorted(it.key for it in train_items), "val": sorted(it.key for it in val_items)}
    return train_items, val_items, manifest


def train(cfg: TrainConfig) -> ModelMetadata:
    """Trains one model and writes its bundle to `cfg.out`; returns its metadata."""
    t_start = time.time()
    device = _pick_device(cfg.device)
    torch.manual_seed(cfg.seed); np.random.seed(cfg.seed); random.seed(cfg.seed)
    arch = REGISTRY[cfg.arch]
    spec = arch.input
    train_items, val_items, manifest = _split(cfg)
    log(f"[{cfg.arch}] train {class_counts(train_items)}  val {class_counts(val_items)}  device {hardware_name(device)}")
    x_train = load_resized(train_items, spec.size, cfg.workers)
    x_val = load_resized(val_items, spec.size, cfg.workers)
    y_train = torch.tensor([it.label for it in train_items], dtype=torch.float32)
    y_val = np.array([it.label for it in val_items])

    model = create_model(cfg.arch, spec, pretrained=cfg.pretrained or True).to(device)
    run = Run.start(model, cfg, math.ceil(len(train_items) / cfg.batch_size), y_train, device)
    for epoch in range(run.start_epoch, cfg.epochs):
        t0 = time.time()
        run_loss, run_accuracy, run_auc = train_epoch(model, run, x_train, y_train, cfg, epoch, device)
        val_logits, _ = logits_and_features(model, x_val, spec, device)
        val_loss = F.binary_cross_entropy_with_logits(torch.tensor(val_logits), torch.tensor(y_val, dtype=torch.float64),
                                                      pos_weight=run.pos_weight.cpu().double()).item()
        row = {"epoch": epoch + 1, "train_loss": run_loss, "train_accuracy": run_accuracy, "train_auc": run_auc,
               "val_loss": val_loss, "val_accuracy": float(((val_logits > 0) == y_val).mean()),
               "val_auc": epoch_auc(y_val, val_logits), "lr": run.opt.param_groups[0]["lr"],
               "seconds": round(time.time() - t0, 1)}
        improved = run.record(row, model, epoch)
        log_epoch(cfg, row, improved)
        run.checkpoint(model, epoch)
        if should_stop(epoch + 1, run.bad_epochs, cfg):
            log(f"[{cfg.arch}] early stop: no validation improvement in {cfg.patience} epochs")
            break

    model.load_state_dict(run.best["state"])
    return _finish(cfg, model, arch, (train_items, val_items, manifest), (x_train, x_val, y_val), run, device, t_start)


def _finish(cfg: TrainConfig, model: torch.nn.Module, arch, split: tuple[list, list, dict],
            arrays: tuple[np.ndarray, np.ndarray, np.ndarray], run: Run, device: torch.device,
            t_start: float) -> ModelMetadata:
    """After the best epoch is restored: the operating point and the OOD statistics (both on
    validation), then the bundle, its history, its split manifest and ood.npz."""
    train_items, val_items, manifest = split
    x_train, x_val, y_val = arrays
    spec = arch.input
    val_logits, val_feats = logits_and_features(model, x_val, spec, device)
    point, calibration = choose_operating_point(shifted_logits(model, x_val, spec, device), y_val,
                                                patient_of(val_items, cfg.data))
    _, train_feats = logits_and_features(model, x_train[ood_subset(len(x_train), cfg.seed)], spec, device)
    ood = fit_ood(train_feats, val_feats)
    wall = time.time() - t_start

    meta = ModelMetadata(
        name=cfg.out.name, architecture=cfg.arch, description=arch.description,
        input=spec.to_dict(), classes=list(CLASSES), output="single logit; sigmoid(logit / temperature) = P(PNEUMONIA)",
        **operating_fields(point, calibration, y_val, val_logits), default_threshold="balanced",
        best_epoch=run.best["epoch"] + 1, epochs_run=len(run.history),
        validation_counts=class_counts(val_items), train_counts=class_counts(train_items),
        split_manifest_sha256=manifest_hash(manifest),
        training={"config": cfg.to_dict(), "wall_seconds": round(wall, 1), "hardware": hardware_name(device),
                  "torch": torch.__version__, "pneumo_core": __version__},
        ood=ood_record(ood),
        # train_with_flip_decision replaces this with its experiment's result
        hflip_decision={"hflip": cfg.augment.hflip,
                        "rule": "set by --hflip (off by default: in the --hflip auto experiment, flips raised "
                                "the validation loss of both architectures)"},
    )
    save_bundle(cfg.out, model.cpu(), meta)
    (cfg.out / "history.json").write_text(json.dumps(run.history, indent=2) + "\n")
    (cfg.out / "split.json").write_text(json.dumps(manifest, indent=1) + "\n")
    ood.save(cfg.out / "ood.npz")
    write_manifest(cfg.out)
    shutil.rmtree(cfg.run_dir, ignore_errors=True)
    log(f"[{cfg.arch}] wrote {cfg.out} in {wall / 60:.1f} min; best epoch {run.best['epoch'] + 1}, "
         f"T={point.temperature:.3f}, thresholds {point.thresholds} (fitted on {'+'.join(calibration['fitted_on'])})")
    return meta


def operating_fields(point: OperatingPoint, calibration: dict, y_val: np.ndarray, val_logits: np.ndarray) -> dict:
    """model.json's operating point fields, with metrics on clean validation whatever it was fitted on."""
    val_probs = calibrated(val_logits, point.temperature)
    return {"temperature": point.temperature, "thresholds": point.thresholds, "threshold_rule": THRESHOLD_RULES,
            "calibration": calibration,
            "validation": {k: {name: point_metrics(y_val, val_probs, t)[k] for name, t in point.thresholds.items()}
                           for k in ("accuracy", "recall", "specificity", "roc_auc", "ece", "brier")}}


def ood_subset(n: int, seed: int, size: int = 3000) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def patient_of(items: list[Item], data: str | Path) -> np.ndarray:
    """Each item's patient group (duplicated films joined), for holding whole patients out."""
    group = patient_groups(items, read_duplicate_groups(duplicates_file(data)))
    return np.array([group[it.key] for it in items])
