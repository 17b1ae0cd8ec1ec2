"""Commands that measure and list: `evaluate` (a labelled split into the shipped evaluation
layout), `models` (the shipped models and the README's tables) and `counts` (a dataset's
class counts)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..models.manifest import restamp_if_in_bundle

__all__ = ["register"]

IN_SAMPLE = ("the site profile was fitted on these very films, so these figures are in-sample (too good); "
             "the honest ones are the out-of-fold evaluation in site_study_test.json (`site study`)")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from ..evaluation.evaluate import evaluate
    from ..evaluation.out_of_fold import fitted_on_test_split
    from ..inference.predictor import Predictor

    # every film scored as given: the evaluation measures the model; the input gate has its own benchmark
    predictor = Predictor.from_pretrained(args.model, site=args.site, gate=False)
    result = evaluate(predictor, args.data, args.split, n_boot=args.bootstrap)
    if args.split == "test" and fitted_on_test_split(predictor.site, predictor.bundle.directory,
                                                     shipped=args.site == getattr(predictor.site, "name", None)):
        result["in_sample"] = IN_SAMPLE
        print(f"warning: {IN_SAMPLE}", file=sys.stderr)
    suffix = f"_site-{predictor.site.name}" if predictor.site is not None else ""
    out = args.out or predictor.bundle.directory / f"eval_{args.split}{suffix}.json"
    Path(out).write_text(json.dumps(result, indent=1) + "\n")
    restamp_if_in_bundle(out)
    m = result["metrics"][result["default_threshold"]]
    print(f"{result['model']} on {args.split} (n={result['n']}, threshold {result['default_threshold']} = "
          f"{result['thresholds'][result['default_threshold']]:.3f}) -> {out}")
    for k in ("accuracy", "recall", "specificity", "precision", "f1", "roc_auc", "average_precision", "brier", "ece"):
        print(f"  {k:18s} {m[k]['value']:.4f}  [{m[k]['ci_low']:.4f}, {m[k]['ci_high']:.4f}]")
    print(f"  confusion [[TN, FP], [FN, TP]] = {m['confusion_matrix']}, 95% CI per cell {m['confusion_matrix_ci']} "
          "(under a patient bootstrap the number of images drawn varies too)")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    import json

    from ..models.bundle import DEFAULT_MODEL, WEIGHTS_DIR, list_models
    from ..models.metadata import read_metadata

    if args.markdown:
        from ..evaluation.results import adapt_results_markdown, results_markdown, site_results_markdown
        print({"adapted": adapt_results_markdown, "site": site_results_markdown, "test": results_markdown}[args.table]())
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


def _cmd_counts(args: argparse.Namespace) -> int:
    from ..data.dataset import class_counts, scan_split

    for split in ("train", "val", "test"):
        if (args.data / split).is_dir():
            counts = class_counts(scan_split(args.data, split))
            print(f"{split:5s} " + "  ".join(f"{k} {v}" for k, v in counts.items()) + f"  total {sum(counts.values())}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="metrics with 95%% bootstrap CIs on a labelled split")
    e.add_argument("--data", type=Path, default=Path("data"), help="folder holding SPLIT/{NORMAL,PNEUMONIA} (default: data)")
    e.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    e.add_argument("--split", default="test", help="test, or val (the model's own validation set; needs the full dataset)")
    e.add_argument("--out", type=Path, help="output JSON (default weights/MODEL/eval_SPLIT.json)")
    e.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    e.add_argument("--site", metavar="PROFILE", help="evaluate under a site profile (shipped name or JSON path)")
    e.set_defaults(func=_cmd_evaluate)

    m = sub.add_parser("models", help="list shipped models with their headline test metrics")
    m.add_argument("--markdown", action="store_true", help="print the README's results table")
    m.add_argument("--table", choices=("test", "site", "adapted"), default="test",
                   help="with --markdown: the test split's table (default), the site-calibrated (cross-fitted) one, "
                        "or the label-free operating point's")
    # the previous release's switches (`--site` names a profile everywhere else)
    m.add_argument("--site", dest="table", action="store_const", const="site", help=argparse.SUPPRESS)
    m.add_argument("--adapted", dest="table", action="store_const", const="adapted", help=argparse.SUPPRESS)
    m.set_defaults(func=_cmd_models)

    n = sub.add_parser("counts", help="class counts per split of a Kaggle-layout folder")
    n.add_argument("--data", type=Path, default=Path("data"))
    n.set_defaults(func=_cmd_counts)
