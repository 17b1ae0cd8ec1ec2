"""The model card's training protocol: model.json (and selection.json) as field/value rows
in plain words, with the long rules kept for an expander (`calibration_choice_details`)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...models.metadata import ModelMetadata

__all__ = ["training_rows", "calibration_choice_in_words", "calibration_choice_details"]


_AUGMENT_WORDS = {"rotate_deg": "rotation ±{:g}°", "zoom": "zoom ±{:.0%}", "shift": "shift ±{:.0%}",
                  "brightness": "brightness ±{:.0%}", "contrast": "contrast ±{:.0%}", "gamma": "gamma ±{:g}",
                  "blur_sigma": "blur up to σ {:g} px", "noise": "noise up to {:g}"}


def _augment_text(aug: dict) -> str:
    parts = []
    for k, v in aug.items():
        if k == "hflip":
            parts.append("horizontal flips" if v else "no horizontal flips")
        elif k in _AUGMENT_WORDS and isinstance(v, (int, float)):
            parts.append(_AUGMENT_WORDS[k].format(v))
        else:
            parts.append(f"{k} {v}")
    return ", ".join(parts) or "–"


def _regularisation_text(cfg: dict) -> str:
    ls, mix, scale = cfg["label_smoothing"], cfg["mixup"], cfg["backbone_lr_scale"]  # scale 0 = frozen backbone
    parts = ([f"label smoothing {ls}"] if ls else []) + ([f"mixup {mix}"] if mix else []) \
        + ([f"backbone learning rate x{scale} of the head's"] if scale != 1 else [])
    return ", ".join(parts) or "none (hard labels, one learning rate)"


def _fitted_on(meta: ModelMetadata) -> str:
    cal = meta.calibration
    if cal is None or cal["fitted_on"] == ["clean"]:  # no record: trained before the choice existed, on clean
        return "fitted on clean validation"
    return "fitted on clean validation pooled with simulated shifts"


def calibration_choice_in_words(meta: ModelMetadata) -> str:
    """Where the temperature and thresholds were fitted, and why, in about twenty plain words;
    the rule and the held-out figures are in `calibration_choice_details`."""
    cal = meta.calibration
    if cal is None:
        return "not recorded (trained before the choice existed)"
    if cal["fitted_on"] == ["clean"]:
        return ("fitted on clean validation films: adding simulated scanner changes was tested on held-out films "
                "and did not pass the rule set beforehand")
    return ("fitted on clean validation films plus simulated scanner changes: on held-out films this gave better "
            "probabilities without losing accuracy")


def calibration_choice_details(meta: ModelMetadata) -> str:
    """The rule that chose where the temperature and thresholds were fitted, with the
    held-out losses of both ways (the kept point was not held out: not shown)."""
    cal = meta.calibration
    if cal is None:
        return "not recorded (trained before the choice existed)"
    held_out = {w: v for w, v in cal["mean_held_out"].items() if w in ("clean", "pooled")}
    loss = ", ".join(f"{w} fit {v['balanced_log_loss']:.4f}" for w, v in held_out.items())
    acc = ", ".join(f"{w} fit {v['balanced_accuracy']:.4f}" for w, v in held_out.items())
    return "Rule: " + cal["rule"] + (f". Mean held-out balanced log loss: {loss}; balanced accuracy: {acc}." if loss else ".")


def _early_stop_text(cfg: dict) -> str:
    first = math.ceil(cfg["early_stop_from"] * cfg["epochs"])
    return (f"; of {cfg['epochs']} scheduled, early stopping after {cfg['patience']} epochs without improvement"
            + (f", never before epoch {first}" if first else ""))


def training_rows(meta: ModelMetadata, selection: dict | None = None) -> list[dict]:
    """The training protocol as field/value rows, from model.json (and the model's
    selection.json record, when it has one)."""
    tr = meta.training
    cfg = tr["config"]
    counts = lambda c: ", ".join(f"{v} {k}" for k, v in c.items())  # noqa: E731
    hf = meta.hflip_decision
    flips = ("used" if hf["hflip"] else "not used") + f": {hf['rule']}"
    if "best_val_loss" in hf:
        flips += "; best validation loss " + ", ".join(f"{k} {v:.4f}" for k, v in hf["best_val_loss"].items())
    if "note" in hf:
        flips += f" ({hf['note']})"
    rows = [
        ("architecture", meta.architecture),
        ("input", "{size}x{size} px, {channels} channel(s), squashed to a square (no crop)".format(**meta.input)),
        ("output", meta.output),
        ("initialisation", "ImageNet weights" if "ImageNet" in meta.description else "from scratch"),
        ("training images", counts(meta.train_counts)),
        ("validation images", counts(meta.validation_counts) + f" ({cfg['val_fraction']:.0%} of train, patient-grouped)"),
        ("epochs", f"{meta.epochs_run} run, epoch {meta.best_epoch} kept (best validation loss)" + _early_stop_text(cfg)),
        ("optimiser", f"lr {cfg['lr']}, batch {cfg['batch_size']}, weight decay {cfg['weight_decay']}, "
                      f"early-stopping patience {cfg['patience']}"),
        ("augmentation", _augment_text(cfg["augment"])),
        ("soft targets and backbone learning rate", _regularisation_text(cfg)),
        ("horizontal flips", flips),
        ("model selection", f"{selection['chosen']}: {selection['rule']} (selection.json)" if selection else "–"),
        ("temperature", f"{meta.temperature:.3f}, {_fitted_on(meta)}, like the thresholds"),
        ("calibration choice", calibration_choice_in_words(meta)),
        ("out-of-distribution flag", f"{meta.ood['method']}; {meta.ood['threshold_rule']}"),
        ("hardware", f"{tr['hardware']}, {tr['wall_seconds']} s, torch {tr['torch']}"),
    ]
    return [{"field": k, "value": str(v)} for k, v in rows]
