"""Site adaptation commands: `adapt-site` makes a profile from a site's unlabelled films,
`adapt-study` measures adaptation by draws (validation shifts: which method ships; the test
split: the committed protocol), `class-moments` measures the source's per-class moments."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..models.manifest import restamp_if_in_bundle

__all__ = ["register"]


def _site_method(name: str | None):
    """The method a name picks: an operating point from the site's scores, or re-estimated
    normalisation (`bn-...`); None: the shipped default."""
    if name is None:
        return None
    from ..adaptation.method import CANDIDATES
    from ..adaptation.score_mixture import MIXTURES
    from ..calibration.site import SiteProfileError
    known = {m.name: m for m in (*MIXTURES, *CANDIDATES) if m.name != "none"}
    if name not in known:
        raise SiteProfileError(f"unknown adaptation method {name!r}; known: {', '.join(known)}")
    return known[name]


def _cmd_adapt_site(args: argparse.Namespace) -> int:
    """Adapts, writes the profile, then says what changed: the calls that differ between the
    model as shipped and the profile at its default operating point (`adaptation.changes`,
    the list the app shows), one line each on stderr and in the JSON summary."""
    from tqdm import tqdm

    from ..adaptation.changes import changed_calls, site_probabilities, threshold_only
    from ..audit import cli_user, default_log
    from ..calibration.site import save_profile
    from ..inference.predictor import Predictor
    from ..inference.site_adaptation import adapt_predictions
    from ..io.scan import scan_paths

    method = _site_method(args.method)  # before any film is read
    files, notes = scan_paths(args.paths)
    for note in notes:
        print(note, file=sys.stderr)
    predictor = Predictor(args.model)
    sources = [(f, str(f)) for f in files]
    with tqdm(total=len(files), desc="read", unit="img", file=sys.stderr, disable=args.quiet) as bar:
        before = [bar.update(1) or pred for pred in predictor.predict_sources(iter(sources), 0.5)]
    site = adapt_predictions(predictor, before, name=args.name or args.out.stem, method=method)
    for name, reason in site.withheld:
        print(f"not used: {name}: {reason}", file=sys.stderr)
    save_profile(site.profile, args.out)
    restamp_if_in_bundle(args.out)
    p = site.profile
    default_log().append(cli_user(), "profile_made", model=p.model, site_sha256=p.files_sha256, count=site.used)
    if threshold_only(p):  # the network is as shipped: the profile's calls follow from the same scores
        scored = [pred.probability is not None and pred.logit is not None for pred in before]
        moved = iter(site_probabilities(p, [pred.logit for pred, ok in zip(before, scored) if ok]))
        after = [float(next(moved)) if ok else None for ok in scored]
    else:
        with tqdm(total=len(files), desc="read under the profile", unit="img", file=sys.stderr,
                  disable=args.quiet) as bar:
            after = [bar.update(1) or pred.probability
                     for pred in Predictor(args.model, site=p).predict_sources(iter(sources), 0.5)]
    preset = p.default_threshold
    changes = changed_calls([pred.file for pred in before], [pred.probability for pred in before], after,
                            threshold_before=predictor.bundle.thresholds[preset], threshold_after=p.thresholds[preset],
                            preset=preset)
    print(f"calls changed: {len(changes.changed)} of {changes.compared} at the {preset} threshold "
          f"({changes.threshold_before:.3f} before, {changes.threshold_after:.3f} on the profile's probability)",
          file=sys.stderr)
    for c in changes.changed:
        print(f"  {c.line()}", file=sys.stderr)
    print(json.dumps({"profile": str(args.out), "name": p.name, "films": site.used, "not_used": len(site.withheld),
                      "method": p.adaptation["method"], "estimated_prevalence": p.adaptation["estimated_prevalence"],
                      "thresholds": p.thresholds, "calls_changed": len(changes.changed),
                      "changed": [{"file": c.file, "before": c.before, "after": c.after} for c in changes.changed]},
                     indent=1))
    return 0


def _split(args: argparse.Namespace):
    import numpy as np

    from ..data.dataset import duplicates_file, load_resized, patient_groups, read_duplicate_groups
    from ..evaluation.evaluate import split_items
    from ..models.bundle import load_bundle

    bundle = load_bundle(args.model)
    items = split_items(bundle, args.data, args.split)
    group = patient_groups(items, read_duplicate_groups(duplicates_file(args.data)))
    images = load_resized(items, bundle.spec.size, workers=0)
    return bundle, items, images, np.array([it.label for it in items]), np.array([group[it.key] for it in items])


def _cmd_class_moments(args: argparse.Namespace) -> int:
    from ..adaptation.source import measure_class_moments, save_class_moments

    import numpy as np

    from ..data.dataset import load_resized, manifest_items
    from ..models.bundle import load_bundle
    bundle = load_bundle(args.model)
    items = manifest_items(bundle.directory / "split.json", args.data)["train"]
    images = load_resized(items, bundle.spec.size, workers=0)
    moments = measure_class_moments(bundle, images, np.array([it.label for it in items]))
    out = save_class_moments(moments, bundle.directory)
    restamp_if_in_bundle(out)
    print(f"{bundle.name}: class moments of {len(moments)} layers on {len(items)} training films -> {out}")
    return 0


def _cmd_source_scores(args: argparse.Namespace) -> int:
    from ..adaptation.source import save_source_scores
    from ..evaluation.score_cache import shifted_scores
    from ..evaluation.site_shifts import SITE_SHIFTS
    args.split = "val"
    bundle, items, images, labels, _ = _split(args)
    scores = shifted_scores(bundle.model, bundle.meta.model_sha256, images, bundle.spec,
                            {"clean": SITE_SHIFTS["clean"]}, cache=args.cache)
    out = save_source_scores(scores["clean"]["logits"] / bundle.temperature, labels, bundle.directory)
    restamp_if_in_bundle(out)
    print(f"{bundle.name}: source scores of {len(items)} validation films -> {out}")
    return 0


def _normalisation_study(args: argparse.Namespace, bundle, images, labels, patients, out: Path) -> dict:
    """The earlier study of re-estimated normalisation moments (docs/site-adaptation.md, its history)."""
    from ..adaptation.method import DEFAULT_METHOD, method_named
    from ..evaluation.adaptation_runner import run_study
    partial = out.with_suffix(".partial.json")
    record = run_study(bundle, images, labels, patients, split=args.split, draws=args.draws or 200, seed=args.seed,
                       device=args.device, method=method_named(args.method) if args.method else DEFAULT_METHOD,
                       progress=None if args.quiet else lambda line: print(line, file=sys.stderr, flush=True),
                       checkpoint=lambda so_far: partial.write_text(json.dumps(so_far, indent=1) + "\n"))
    partial.unlink(missing_ok=True)
    return record


def _cmd_adapt_study(args: argparse.Namespace) -> int:
    from ..adaptation.score_mixture import DEFAULT_MIXTURE, mixture_named
    from ..evaluation.threshold_runner import run_threshold_study
    from ..evaluation.threshold_study import TEST_DRAWS, VALIDATION_DRAWS
    bundle, items, images, labels, patients = _split(args)
    suffix = "" if args.study == "operating-point" else "_normalisation"
    out = Path(args.out or bundle.directory / f"adapt_study{suffix}_{args.split}.json")
    if args.study == "normalisation":
        record = _normalisation_study(args, bundle, images, labels, patients, out)
    else:
        args.draws = args.draws or (VALIDATION_DRAWS if args.split == "val" else TEST_DRAWS)
        record = run_threshold_study(
            bundle, images, labels, patients, split=args.split, draws=args.draws, seed=args.seed, device=args.device,
            cache=args.cache, method=mixture_named(args.method) if args.method else DEFAULT_MIXTURE,
            progress=None if args.quiet else lambda line: print(line, file=sys.stderr, flush=True))
    out.write_text(json.dumps(record, indent=1) + "\n")
    restamp_if_in_bundle(out)
    took = f", {record['wall_seconds']:.0f} s on {record['device']}" if "wall_seconds" in record else ""
    print(f"{bundle.name} {args.study} study on {args.split} (n={len(items)}, {record['draws']} draws{took}) -> {out}")
    for line in record["table"]:
        print("  " + line)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("adapt-site", help="adapt a model to a site from its unlabelled films (a site profile)")
    a.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="films or folders of the site (no labels)")
    a.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    a.add_argument("--out", required=True, type=Path, help="the profile JSON to write")
    a.add_argument("--name", help="the site's name, shown with every call (default: the file name)")
    a.add_argument("--method", help="how to adapt (default scores-shift-class-give0.01: the operating point from the "
                   "site's own scores); bn-last48-weighted: re-estimate the network's normalisation (the earlier method)")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=_cmd_adapt_site)

    s = sub.add_parser("adapt-study", help="measure the label-free operating point by draws on a labelled split")
    s.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    s.add_argument("--data", type=Path, default=Path("data"), help="folder holding the splits (default: data)")
    s.add_argument("--split", default="test", help="val: every candidate under simulated shifts, and the choice; "
                   "test: the shipped method by the committed protocol")
    s.add_argument("--draws", type=int, default=None, help="draws per prevalence (and shift) (default: the rule's "
                   "for val, the protocol's for test)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu", help="cpu (default) or cuda (the scores only: the draws run on the CPU)")
    s.add_argument("--method", help="the method a test-split run measures (default: the shipped one)")
    s.add_argument("--study", choices=("operating-point", "normalisation"), default="operating-point",
                   help="operating-point (default): the threshold from the site's own scores; normalisation: the "
                        "earlier study of re-estimated normalisation moments (writes adapt_study_normalisation_SPLIT.json)")
    s.add_argument("--cache", type=Path, default=Path("runs/score_cache"),
                   help="where each shift's scores are kept (default runs/score_cache): a stopped run resumes")
    s.add_argument("--out", type=Path, help="output JSON (default weights/MODEL/adapt_study_SPLIT.json)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_adapt_study)

    v = sub.add_parser("source-scores", help="the validation films' scores by class: what a site's scores are fitted against")
    v.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    v.add_argument("--data", type=Path, required=True, help="the full dataset's folder (the validation films)")
    v.add_argument("--cache", type=Path, default=Path("runs/score_cache"), help="score cache (default runs/score_cache)")
    v.set_defaults(func=_cmd_source_scores)

    c = sub.add_parser("class-moments", help="measure the per-class normalisation moments on the training films")
    c.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    c.add_argument("--data", type=Path, required=True, help="the full dataset's folder (the training films)")
    c.set_defaults(func=_cmd_class_moments)
