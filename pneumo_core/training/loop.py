"""The training loop's moving parts: the run state an interrupted run resumes from
(optimiser, schedule, sampling generator, history, best epoch), one epoch over the training
films, and the early-stopping rule. `train.train` strings them together."""
from __future__ import annotations

import math
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from ..data.augment import augment
from ..data.preprocess import standardise, to_unit
from ..models.registry import REGISTRY
from .config import BEFORE_IT_EXISTED, TrainConfig, documented_settings

__all__ = ["Run", "train_epoch", "epoch_auc", "log_epoch", "should_stop", "result_config", "param_groups",
           "soft_targets", "log"]


def log(msg: str) -> None:
    print(msg, flush=True)


# Settings that do not change what a run computes: a run may resume under other values.
_NOT_RESULT_SETTINGS = {"device", "workers", "resume", "out", "run_dir"}


def result_config(d: dict) -> dict:
    """The settings that decide what a run computes. A config written before a setting
    existed is filled in with how runs behaved then: the setting's default, unless
    `config.BEFORE_IT_EXISTED` says otherwise."""
    defaults = documented_settings(d["arch"]) if d.get("arch") in REGISTRY else {}
    return {k: v for k, v in {**defaults, **BEFORE_IT_EXISTED, **d}.items() if k not in _NOT_RESULT_SETTINGS}


class Run:
    """What an interrupted run needs to go on: optimiser, schedule, sampling generator,
    history and best epoch, checkpointed to `cfg.run_dir/last.pt` after every epoch."""

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, steps_per_epoch: int, y_train: torch.Tensor,
                 device: torch.device) -> None:
        arch = REGISTRY[cfg.arch]
        self.cfg, self.steps_per_epoch = cfg, steps_per_epoch
        self.opt = torch.optim.AdamW(param_groups(model, arch.head, cfg.lr, cfg.backbone_lr_scale),
                                     weight_decay=cfg.weight_decay)
        total, warm = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: (s + 1) / max(warm, 1) if s < warm else
                                                       0.5 * (1 + math.cos(math.pi * (s - warm) / max(total - warm, 1))))
        n_pos = float(y_train.sum()); n_neg = len(y_train) - n_pos
        self.pos_weight = torch.tensor([n_neg / n_pos], device=device)  # equal total weight per class
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.history: list[dict] = []
        self.best = {"val_loss": float("inf"), "epoch": -1, "state": None}
        self.start_epoch = 0
        self.bad_epochs = 0
        self.ckpt = cfg.run_dir / "last.pt"

    @classmethod
    def start(cls, model: torch.nn.Module, cfg: TrainConfig, steps_per_epoch: int, y_train: torch.Tensor,
              device: torch.device) -> "Run":
        """A fresh run, or the checkpointed one when `cfg.resume` and its settings match."""
        run = cls(model, cfg, steps_per_epoch, y_train, device)
        if cfg.resume and run.ckpt.is_file():
            state = torch.load(run.ckpt, map_location="cpu", weights_only=False)  # our own file, never shipped
            if result_config(state["config"]) == result_config(cfg.to_dict()):
                model.load_state_dict(state["model"]); run.opt.load_state_dict(state["opt"])
                run.sched.load_state_dict(state["sched"]); run.gen.set_state(state["gen"])
                run.history, run.best, run.start_epoch = state["history"], state["best"], state["epoch"] + 1
                log(f"[{cfg.arch}] resumed after epoch {run.start_epoch}")
            else:
                log(f"[{cfg.arch}] ignoring {run.ckpt}: it was written with different training settings")
        run.bad_epochs = run.start_epoch - 1 - run.best["epoch"] if run.best["epoch"] >= 0 else 0
        return run

    def record(self, row: dict, model: torch.nn.Module, epoch: int) -> bool:
        """Adds the epoch to the history; keeps the weights when validation loss improved."""
        self.history.append(row)
        improved = row["val_loss"] < self.best["val_loss"]
        if improved:
            self.best = {"val_loss": row["val_loss"], "epoch": epoch,
                         "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return improved

    def checkpoint(self, model: torch.nn.Module, epoch: int) -> None:
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        torch.save({"config": self.cfg.to_dict(), "model": model.state_dict(), "opt": self.opt.state_dict(),
                    "sched": self.sched.state_dict(), "gen": self.gen.get_state(), "history": self.history,
                    "best": self.best, "epoch": epoch}, self.ckpt)


def train_epoch(model: torch.nn.Module, run: Run, x_train: np.ndarray, y_train: torch.Tensor, cfg: TrainConfig,
                 epoch: int, device: torch.device) -> tuple[float, float, float | None]:
    """One pass over the shuffled training films: (mean loss, accuracy, ROC-AUC) as trained."""
    spec = REGISTRY[cfg.arch].input
    model.train()
    order = torch.randperm(len(x_train), generator=run.gen)
    run_loss = run_correct = 0.0
    seen_logits, seen_labels = [], []
    for i in tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                  leave=False, file=sys.stderr, disable=None):  # None: only on a terminal, so logs stay readable
        idx = order[i:i + cfg.batch_size]
        if len(idx) < 2:
            continue  # batch norm needs two samples
        x = to_unit(torch.from_numpy(x_train[idx.numpy()])).to(device)
        x = standardise(augment(x, cfg.augment, run.gen), spec)
        y = y_train[idx].to(device)
        x, target = soft_targets(x, y, cfg, run.gen, step=epoch * run.steps_per_epoch + i // cfg.batch_size)
        logit = model(x).squeeze(1)
        loss = F.binary_cross_entropy_with_logits(logit, target, pos_weight=run.pos_weight)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step(); run.sched.step()
        run_loss += loss.item() * len(idx)
        run_correct += ((logit > 0) == (target > 0.5)).sum().item()
        seen_logits.append(logit.detach()); seen_labels.append(target.detach() > 0.5)  # kept on device: no sync per step
    auc = epoch_auc(torch.cat(seen_labels).cpu().numpy(), torch.cat(seen_logits).float().cpu().numpy())
    return run_loss / len(order), run_correct / len(order), auc


def log_epoch(cfg: TrainConfig, row: dict, improved: bool) -> None:
    auc = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
    log(f"[{cfg.arch}] epoch {row['epoch']}/{cfg.epochs} train_loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f} "
         f"auc {auc(row['train_auc'])} | val_loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f} "
         f"auc {auc(row['val_auc'])} | lr {row['lr']:.2e} | {row['seconds']:.0f}s{' *' if improved else ''}")


def should_stop(epochs_done: int, bad_epochs: int, cfg: TrainConfig) -> bool:
    """Early stopping, but never in the first `early_stop_from` of the schedule: while the
    learning rate is high, validation loss jumps from epoch to epoch, and a lucky early minimum
    would end the run before later epochs had the chance to beat it (docs/model-development.md
    tells the run that showed it). The restored epoch is still the best on validation."""
    return bad_epochs >= cfg.patience and epochs_done >= math.ceil(cfg.early_stop_from * cfg.epochs)


def epoch_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC, or None when a tiny run saw one class only (JSON has no NaN)."""
    return float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else None


def param_groups(model: torch.nn.Module, head: tuple[str, ...], lr: float, backbone_scale: float) -> list[dict]:
    """The head learns at `lr`, the (pretrained) backbone at `lr * backbone_scale`: a small
    scale lets the new head fit without first distorting the ImageNet features."""
    named = list(model.named_parameters())
    head_params = [p for n, p in named if n.startswith(head)]
    if backbone_scale == 1.0 or not head_params:  # model order, so older optimiser checkpoints still fit
        return [{"params": [p for _, p in named], "lr": lr}]
    body_params = [p for n, p in named if not n.startswith(head)]
    return [{"params": head_params, "lr": lr}, {"params": body_params, "lr": lr * backbone_scale}]


def soft_targets(x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, gen: torch.Generator,
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
