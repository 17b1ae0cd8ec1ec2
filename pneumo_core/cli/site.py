"""Site calibration commands: `site calibrate` fits a profile on a labelled local sample,
`site study` measures that procedure on a labelled split with a fixed cross-fitted protocol
(registered here under their flat names, which `groups` places under `site`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..models.manifest import restamp_if_in_bundle

__all__ = ["register", "site_profile_for"]


def site_profile_for(model: str | None, name_or_path: str | None):
    """The `--site` option: None, a profile shipped with the model, or a profile JSON path."""
    if not name_or_path:
        return None
    from ..calibration.site import resolve_profile
    from ..models.bundle import resolve_model_dir
    return resolve_profile(name_or_path, resolve_model_dir(model))


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated whole numbers, not {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, not {text!r}")
    return sizes


def _cmd_calibrate_site(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..calibration.sample import ScoredSample, read_labelled
    from ..inference.batch import score_batch
    from ..calibration.site import build_site_profile, save_profile
    from ..inference.predictor import Predictor

    files, notes = read_labelled(args.labelled)
    for note in notes:
        print(note, file=sys.stderr)
    base = None
    if args.adapted:  # adapt first, then recalibrate the adapted model on the few labels there are
        from ..calibration.site import load_profile
        base = load_profile(args.adapted)
        if not base.adaptation:
            from ..calibration.site import SiteProfileError
            raise SiteProfileError(f"{args.adapted} is not an adapted profile (`pneumo site adapt` makes one)")
    predictor = Predictor(args.model, site=base)
    with tqdm(total=len(files), desc="score", unit="img", file=sys.stderr, disable=args.quiet) as bar:
        sample = ScoredSample.from_batch(files, score_batch(predictor, [(f.source, f.key) for f in files],
                                                            progress=lambda done, total: bar.update(1)))
    for key, reason in sample.skipped:
        print(f"skipped (unreadable): {key}: {reason}", file=sys.stderr)
    profile = build_site_profile(sample.logits, sample.labels, sample.patients, sample.keys,
                                 name=args.name or args.out.stem, model=predictor.name,
                                 model_sha256=predictor.bundle.meta.model_sha256, prevalence=args.prevalence,
                                 cost_ratio=args.cost_ratio, n_boot=args.bootstrap,
                                 features=sample.features, model_dir=predictor.bundle.directory,
                                 adaptation=base.adaptation if base is not None else None)
    for w in profile.warnings:
        print(f"warning: {w}", file=sys.stderr)
    save_profile(profile, args.out)
    restamp_if_in_bundle(args.out)
    from ..audit import cli_user, default_log
    default_log().append(cli_user(), "profile_made", model=profile.model, site_sha256=profile.files_sha256,
                         count=sum(profile.counts.values()))
    e = profile.estimates
    print(json.dumps({"profile": str(args.out), "name": profile.name, "counts": profile.counts,
                      "skipped": len(sample.skipped), "intercept": profile.intercept, "slope": profile.slope,
                      "thresholds": profile.thresholds,
                      "cross_fitted": {k: e[k] for k in ("accuracy", "sensitivity", "specificity", "ece")}}, indent=1))
    return 0


def _cmd_site_study(args: argparse.Namespace) -> int:
    from ..calibration.site import site_thresholds
    from ..calibration.site_study import run_site_study
    from ..data.dataset import duplicates_file, patient_groups, read_duplicate_groups
    from ..evaluation.evaluate import evaluation_report, logits_for, split_items
    from ..inference.predictor import Predictor

    try:
        predictor = Predictor(args.model, gate=False)  # the study measures calibration on every film
        items = split_items(predictor.bundle, args.data, args.split)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # a patient is never on both sides of a fit; nor is one image filed under two names
    group = patient_groups(items, read_duplicate_groups(duplicates_file(args.data)))
    logits = logits_for(predictor, items)
    labels = [it.label for it in items]
    patients = [group[it.key] for it in items]
    study = run_site_study(logits, labels, patients, args.sizes, args.repeats, args.seed)
    oof = study.pop("out_of_fold")
    thresholds = site_thresholds()[0]
    record = {"model": predictor.name, "model_sha256": predictor.bundle.meta.model_sha256, "split": args.split,
              "n": len(items), **study,
              "out_of_fold_evaluation": {**evaluation_report(predictor.name, predictor.bundle.meta.model_sha256,
                                                             args.split, items, oof["probabilities"], thresholds,
                                                             "balanced", args.bootstrap),
                                         "calibration": f"site-calibrated out of fold ({oof['folds']} patient-grouped folds)",
                                         "fold": oof["fold"]}}
    out = args.out or predictor.bundle.directory / f"site_study_{args.split}.json"
    Path(out).write_text(json.dumps(record, indent=1) + "\n")
    restamp_if_in_bundle(out)
    print(f"{predictor.name} site study on {args.split} (n={len(items)}, {args.repeats} draws per size) -> {out}")
    for n, row in record["sizes"].items():
        print(f"  n={n:>4s}: " + ", ".join(f"{k} {row[k]['mean']:.3f} [{row[k]['p2_5']:.3f}, {row[k]['p97_5']:.3f}]"
                                          for k in ("accuracy", "recall", "specificity", "ece")))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("calibrate-site", help="fit a site profile on labelled local films (folders or CSV)")
    c.add_argument("labelled", nargs="+", type=Path, metavar="LABELLED",
                   help="a folder with NORMAL/ and PNEUMONIA/ subfolders, or a CSV with columns file,label")
    c.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    c.add_argument("--out", required=True, type=Path, help="the profile JSON to write")
    c.add_argument("--name", help="the site's name, shown with every call (default: the file name)")
    c.add_argument("--prevalence", type=float, help="the site's pneumonia prevalence, when the sample is not "
                   "consecutive cases (the intercept is then prior-corrected)")
    c.add_argument("--cost-ratio", type=float, default=4.0, help="miss : false-alarm cost for the screening "
                   "threshold (default 4, i.e. P >= 0.2)")
    c.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the estimates' intervals")
    c.add_argument("--adapted", type=Path, help="an adapt-site profile: calibrate the adapted model, and keep its "
                   "adaptation in the new profile")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_cmd_calibrate_site)

    s = sub.add_parser("site-study", help="measure site calibration from n labelled films on a labelled split")
    s.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    s.add_argument("--data", type=Path, default=Path("data"), help="folder holding SPLIT/{NORMAL,PNEUMONIA} (default: data)")
    s.add_argument("--split", default="test")
    s.add_argument("--sizes", type=_sizes, default=[25, 50, 100, 200], help="sample sizes (default 25,50,100,200)")
    s.add_argument("--repeats", type=int, default=200, help="draws per size (default 200)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the out-of-fold evaluation")
    s.add_argument("--out", type=Path, help="output JSON (default weights/MODEL/site_study_SPLIT.json)")
    s.set_defaults(func=_cmd_site_study)
