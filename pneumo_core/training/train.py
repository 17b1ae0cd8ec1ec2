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
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from .. import __version__
from ..calibration import THRESHOLD_RULES, OperatingPoint, calibrated
from ..calibration.shift import choose_operating_point
from ..data.augment import augment
from ..data.dataset import (CLASSES, Item, class_counts, duplicates_file, grouped_split, load_resized, manifest_hash,
                            patient_groups, read_duplicate_groups, scan_split)
from ..data.preprocess import preprocess_batch, standardise, to_unit
from ..evaluation.robustness import shifted_logits
from ..inference.ood import fit_ood, ood_record
from ..models.bundle import save_bundle, sha256_file
from ..models.metadata import ModelMetadata
from ..models.registry import REGISTRY, create_model
from ..stats.metrics import point_metrics
from .config import BEFORE_IT_EXISTED, TrainConfig, documented_settings

__all__ = ["train", "hardware_name", "result_config", "should_stop", "operating_fields", "ood_subset",
           "logits_and_features", "patient_of"]


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


def _log(msg: str) -> None:
    print(msg, flush=True)


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


# Settings that do not change what a run computes: a run may resume under other values.
_NOT_RESULT_SETTINGS = {"device", "workers", "resume", "out", "run_dir"}


def result_config(d: dict) -> dict:
    """The settings that decide what a run computes. A config written before a setting
    existed is filled in with how runs behaved then: the setting's default, unless
    `config.BEFORE_IT_EXISTED` says otherwise."""
    defaults = documented_settings(d["arch"]) if d.get("arch") in REGISTRY else {}
    return {k: v for k, v in {**defaults, **BEFORE_IT_EXISTED, **d}.items() if k not in _NOT_RESULT_SETTINGS}


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
    _log(f"[{cfg.arch}] train {class_counts(train_items)}  val {class_counts(val_items)}  device {hardware_name(device)}")
    x_train = load_resized(train_items, spec.size, cfg.workers)
    x_val = load_resized(val_items, spec.size, cfg.workers)
    y_train = torch.tensor([it.label for it in train_items], dtype=torch.float32)
    y_val = np.array([it.label for it in val_items])

    model = create_model(cfg.arch, spec, pretrained=cfg.pretrained or True).to(device)
    opt = torch.optim.AdamW(_param_groups(model, arch.head, cfg.lr, cfg.backbone_lr_scale), weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_items) / cfg.batch_size)
    total, warm = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / max(warm, 1) if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(total - warm, 1))))
    n_pos = float(y_train.sum()); n_neg = len(y_train) - n_pos
    pos_weight = torch.tensor([n_neg / n_pos], device=device)  # equal total weight per class

    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    best = {"val_loss": float("inf"), "epoch": -1, "state": None}
    start_epoch = 0
    ckpt = cfg.run_dir / "last.pt"
    if cfg.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)  # our own file, never shipped
        if result_config(state["config"]) == result_config(cfg.to_dict()):
            model.load_state_dict(state["model"]); opt.load_state_dict(state["opt"]); sched.load_state_dict(state["sched"])
            gen.set_state(state["gen"]); history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
            _log(f"[{cfg.arch}] resumed after epoch {start_epoch}")
        else:
            _log(f"[{cfg.arch}] ignoring {ckpt}: it was written with different training settings")

    bad_epochs = start_epoch - 1 - best["epoch"] if best["epoch"] >= 0 else 0
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.time()
        model.train()
        order = torch.randperm(len(train_items), generator=gen)
        run_loss = run_correct = 0.0
        seen_logits, seen_labels = [], []
        for i in tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                      leave=False, file=sys.stderr, disable=None):  # None: only on a terminal, so logs stay readable
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2:
                continue  # batch norm needs two samples
            x = to_unit(torch.from_numpy(x_train[idx.numpy()])).to(device)
            x = standardise(augment(x, cfg.augment, gen), spec)
            y = y_train[idx].to(device)
            x, target = _soft_targets(x, y, cfg, gen, step=epoch * steps_per_epoch + i // cfg.batch_size)
            logit = model(x).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logit, target, pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step(); sched.step()
            run_loss += loss.item() * len(idx)
            run_correct += ((logit > 0) == (target > 0.5)).sum().item()
            seen_logits.append(logit.detach()); seen_labels.append(target.detach() > 0.5)  # kept on device: no sync per step
        val_logits, _ = logits_and_features(model, x_val, spec, device)
        val_loss = F.binary_cross_entropy_with_logits(torch.tensor(val_logits), torch.tensor(y_val, dtype=torch.float64),
                                                      pos_weight=pos_weight.cpu().double()).item()
        row = {"epoch": epoch + 1, "train_loss": run_loss / len(order), "train_accuracy": run_correct / len(order),
               "train_auc": _auc(torch.cat(seen_labels).cpu().numpy(), torch.cat(seen_logits).float().cpu().numpy()),
               "val_loss": val_loss, "val_accuracy": float(((val_logits > 0) == y_val).mean()),
               "val_auc": _auc(y_val, val_logits), "lr": opt.param_groups[0]["lr"],
               "seconds": round(time.time() - t0, 1)}
        history.append(row)
        improved = val_loss < best["val_loss"]
        if improved:
            best = {"val_loss": val_loss, "epoch": epoch, "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
            bad_epochs = 0
        else:
            bad_epochs += 1
        auc = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
        _log(f"[{cfg.arch}] epoch {epoch + 1}/{cfg.epochs} train_loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f} "
             f"auc {auc(row['train_auc'])} | val_loss {val_loss:.4f} acc {row['val_accuracy']:.3f} auc {auc(row['val_auc'])} | "
             f"lr {row['lr']:.2e} | {row['seconds']:.0f}s{' *' if improved else ''}")
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "gen": gen.get_state(), "history": history, "best": best, "epoch": epoch}, ckpt)
        if should_stop(epoch + 1, bad_epochs, cfg):
            _log(f"[{cfg.arch}] early stop: no validation improvement in {cfg.patience} epochs")
            break

    model.load_state_dict(best["state"])
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
        best_epoch=best["epoch"] + 1, epochs_run=len(history),
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
    (cfg.out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    (cfg.out / "split.json").write_text(json.dumps(manifest, indent=1) + "\n")
    ood.save(cfg.out / "ood.npz")
    shutil.rmtree(cfg.run_dir, ignore_errors=True)
    _log(f"[{cfg.arch}] wrote {cfg.out} in {wall / 60:.1f} min; best epoch {best['epoch'] + 1}, T={point.temperature:.3f}, "
         f"thresholds {point.thresholds} (fitted on {'+'.join(calibration['fitted_on'])})")
    return meta


def should_stop(epochs_done: int, bad_epochs: int, cfg: TrainConfig) -> bool:
    """Early stopping, but never in the first `early_stop_from` of the schedule: while the
    learning rate is high, validation loss jumps from epoch to epoch, and a lucky early minimum
    would end the run before later epochs had the chance to beat it (docs/model-development.md
    tells the run that showed it). The restored epoch is still the best on validation."""
    return bad_epochs >= cfg.patience and epochs_done >= math.ceil(cfg.early_stop_from * cfg.epochs)


def operating_fields(point: OperatingPoint, calibration: dict, y_val: np.ndarray, val_logits: np.ndarray) -> dict:
    """model.json's operating point fields, with metrics on clean validation whatever it was fitted on."""
    val_probs = calibrated(val_logits, point.temperature)
    return {"temperature": point.temperature, "thresholds": point.thresholds, "threshold_rule": THRESHOLD_RULES,
            "calibration": calibration,
            "validation": {k: {name: point_metrics(y_val, val_probs, t)[k] for name, t in point.thresholds.items()}
                           for k in ("accuracy", "recall", "specificity", "roc_auc", "ece", "brier")}}


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC, or None when a tiny run saw one class only (JSON has no NaN)."""
    return float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else None


def _param_groups(model: torch.nn.Module, head: tuple[str, ...], lr: float, backbone_scale: float) -> list[dict]:
    """The head learns at `lr`, the (pretrained) backbone at `lr * backbone_scale`: a small
    scale lets the new head fit without first distorting the ImageNet features."""
    named = list(model.named_parameters())
    head_params = [p for n, p in named if n.startswith(head)]
    if backbone_scale == 1.0 or not head_params:  # model order, so older optimiser checkpoints still fit
        return [{"params": [p for _, p in named], "lr": lr}]
    body_params = [p for n, p in named if not n.startswith(head)]
    return [{"params": head_params, "lr": lr}, {"params": body_params, "lr": lr * backbone_scale}]


def _soft_targets(x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, gen: torch.Generator,
                  step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup and label smoothing; both off leaves the batch and its hard labels untouched.
    The mixing weight is a pure function of (seed, step), so a resumed run draws the same."""
    if cfg.mixup > 0:
        lam = float(np.random.default_rng([cfg.seed, step]).beta(cfg.mixup, cfg.mixup))
        perm = torch.randperm(len(y), generator=gen).to(y.device)
        x = lam * x + (1 - lam) * x[perm]
        y = lam * y + (1 - lam) * y[perm]
    if cfg.label_smoothing > 0:
        y = y * (1 - cfg.label_smoothing) + 0.5 * cfg.label_smoothing
    return x, y


def ood_subset(n: int, seed: int, size: int = 3000) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def patient_of(items: list[Item], data: str | Path) -> np.ndarray:
    """Each item's patient group (duplicated films joined), for holding whole patients out."""
    group = patient_groups(items, read_duplicate_groups(duplicates_file(data)))
    return np.array([group[it.key] for it in items])
