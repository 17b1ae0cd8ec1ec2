"""What a finished training run measured, read from its own bundle: the record behind the
README's training-time figures (`benchmarks/bench_train_cpu.py --from-run`). It accepts only a
whole, unmodified CPU run of the documented command, so the figure means what it says."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..models.metadata import read_metadata
from .config import documented_settings
from .train import result_config

__all__ = ["summarise_run"]


def summarise_run(out_dir: Path) -> dict:
    """What a finished run of the documented command measured, from its own bundle."""
    meta = read_metadata(out_dir / "model.json")
    history = json.loads((out_dir / "history.json").read_text())
    training = meta.training
    if training["hardware"].startswith("NVIDIA") or training["config"]["device"] == "cuda":
        raise SystemExit(f"{out_dir} was trained on {training['hardware']}, not on a CPU")
    ran = result_config(training["config"])  # a setting the run predates: how runs behaved then
    documented = documented_settings(meta.architecture)
    differs = {k: ran[k] for k, v in documented.items() if ran.get(k) != v}
    if training["config"].get("limit_per_class"):
        differs["limit_per_class"] = training["config"]["limit_per_class"]
    if differs:
        raise SystemExit(f"{out_dir} was not trained with the documented defaults: {differs}")
    if sum(h["seconds"] for h in history) > training["wall_seconds"]:  # wall time covers the last process only
        raise SystemExit(f"{out_dir} was resumed after an interruption, so its wall time is not the whole run's")
    seconds = [h["seconds"] for h in history]
    skipped = documented["epochs"] - meta.epochs_run  # epochs early stopping saved this run
    return {"measured_minutes": round(training["wall_seconds"] / 60, 1), "hardware": training["hardware"],
            "torch": training["torch"], "epochs_run": meta.epochs_run, "best_epoch": meta.best_epoch,
            "epoch_seconds": seconds, "epoch_val_loss": [round(h["val_loss"], 4) for h in history],
            # another run may not stop early: the same run with every documented epoch, at its median epoch time
            "minutes_without_early_stop": round((training["wall_seconds"] + skipped * float(np.median(seconds))) / 60, 1),
            "validation_balanced": {k: v["balanced"] for k, v in meta.validation.items()}}
