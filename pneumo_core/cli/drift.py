"""The drift alarm commands: `drift-reference` builds a model's reference from its validation
patients (half the reference, a quarter the null pool, a quarter held out); `drift` tests a
folder of films against it (or against a site's sample)."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path


from ..models.manifest import write_manifest

__all__ = ["register"]


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _scored(predictor, sources: list[tuple], batch_size: int, quiet: bool):
    """The library's scoring loop with a progress bar on stderr."""
    from tqdm import tqdm

    from ..inference.batch import score_batch
    with tqdm(total=len(sources), desc="score", unit="img", file=sys.stderr, disable=quiet) as bar:
        return score_batch(predictor, sources, batch_size, progress=lambda done, total: bar.update(1))


def _cmd_drift_reference(args: argparse.Namespace) -> int:
    from ..data.dataset import duplicates_file, patient_groups, read_duplicate_groups
    from ..evaluation.evaluate import split_items
    from ..inference.ood import OODModel
    from ..inference.predictor import Predictor
    from ..monitoring.drift import DriftReferenceError, build_named_reference, drift_test, split_by_patient

    try:
        predictor = Predictor(args.model, gate=False)  # the reference holds every validation film
        items = split_items(predictor.bundle, args.data, "val")
    except FileNotFoundError as exc:
        return _error(str(exc))
    # a patient (or one film filed under two names) is never on both sides
    group = patient_groups(items, read_duplicate_groups(duplicates_file(args.data)))
    scored = _scored(predictor, [(it.path, it.key) for it in items], args.batch_size, args.quiet)
    features, logits, kept, failed = scored.features, scored.logits, scored.kept, scored.failed
    for name, reason in failed:
        print(f"skipped (unreadable): {name}: {reason}", file=sys.stderr)
    items = [items[i] for i in kept]
    labels, groups = [it.label for it in items], [group[it.key] for it in items]
    ref_idx, rest = split_by_patient(labels, groups, args.seed)
    # the rest: half is the calibrated null's pool, half stays unseen to measure false alarms
    null_part, held_part = split_by_patient([labels[i] for i in rest], [groups[i] for i in rest], seed=0)
    null_idx, held_idx = rest[null_part], rest[held_part]
    meta = {"built_from": ("validation split (weights/<model>/split.json): half of its patients as the reference, "
                           "a quarter as the null pool, a quarter held out; class-stratified by patient"),
            "seed": args.seed, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **{f"{part}_patients": len({groups[i] for i in idx})
               for part, idx in (("reference", ref_idx), ("null", null_idx), ("heldout", held_idx))},
            "reference_files": [items[i].key for i in ref_idx], "null_files": [items[i].key for i in null_idx],
            "heldout_files": [items[i].key for i in held_idx]}
    try:
        ref = build_named_reference(args.projection, features[ref_idx], logits[ref_idx],
                                    OODModel.load(predictor.bundle.directory / "ood.npz"), features[null_idx],
                                    n_components=args.components, n_permutations=args.permutations,
                                    model=predictor.name, model_sha256=predictor.bundle.meta.model_sha256,
                                    source="validation data", meta=meta)
    except (DriftReferenceError, OSError) as exc:
        return _error(str(exc))
    out = ref.save(predictor.bundle.directory)
    write_manifest(predictor.bundle.directory)
    # one look at the whole held-out half: validation only, for the record
    whole = drift_test(ref, features[held_idx], logits[held_idx], seed=args.seed)
    print(json.dumps({"reference": str(out), **ref.describe(), "heldout_files": len(held_idx),
                      "skipped": len(failed), "heldout_vs_reference": whole}, indent=1))
    return 0


def _cmd_drift(args: argparse.Namespace) -> int:
    from ..inference.predictor import Predictor
    from ..io.scan import scan_paths
    from ..models.bundle import resolve_model_dir
    from ..monitoring.drift import MIN_BATCH, drift_test, verdict_text
    from ..monitoring.site_reference import reference_for
    from .site import site_profile_for

    if not args.paths:
        return _error("no PATH given")
    try:
        model_dir = resolve_model_dir(args.model)
        profile = site_profile_for(args.model, args.site)
        reference = reference_for(model_dir, profile)
    except (OSError, ValueError) as exc:  # the file system's and the readers'; the product's own errors reach main
        return _error(str(exc))
    if reference is None:
        return _error(f"model {model_dir.name!r} ships no drift reference; build one with "
                      f"`python -m pneumo_core dev drift-reference --model {model_dir.name} --data DATASET`")
    files, notes = scan_paths(args.paths)
    for note in notes:
        print(note, file=sys.stderr)
    if len(files) < MIN_BATCH:  # no need to load the model to refuse
        return _error(f"the drift test needs at least {MIN_BATCH} films; found {len(files)} in the given paths")
    predictor = Predictor(model_dir, site=profile)
    scored = _scored(predictor, [(f, str(f)) for f in files], args.batch_size, args.quiet)
    features, logits, failed = scored.features, scored.logits, scored.failed
    for name, reason in failed:
        print(f"unreadable: {name}: {reason}", file=sys.stderr)
    if len(features) < MIN_BATCH:
        return _error(f"the drift test needs at least {MIN_BATCH} scored films; {len(features)} of "
                      f"{len(files)} could be read")
    result = drift_test(reference, features, logits, seed=args.seed)
    against = reference.source
    print(json.dumps({"model": predictor.name, "reference": against, **result, "unreadable": len(failed),
                      "verdict": verdict_text(result, against)}, indent=1))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..monitoring.drift import DEFAULT_PROJECTION, PROJECTIONS

    r = sub.add_parser("drift-reference", help="build a model's drift reference from half its validation patients")
    r.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    r.add_argument("--data", type=Path, required=True, help="the full dataset (holding train/), e.g. "
                   "../shared/data/chest_xray")
    r.add_argument("--seed", type=int, default=0, help="which patients form the reference half")
    r.add_argument("--projection", default=DEFAULT_PROJECTION, choices=[*PROJECTIONS, *(f"{p}+calibrated_null" for p in PROJECTIONS)],
                   help=f"how features are projected and the null is drawn (default {DEFAULT_PROJECTION}, "
                        "chosen on validation by benchmarks/drift_selection.py)")
    r.add_argument("--components", type=int, default=32, help="PCA components (default 32)")
    r.add_argument("--permutations", type=int, default=1000, help="null draws per test (default 1000)")
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_drift_reference)

    d = sub.add_parser("drift", help="test whether a batch of films (>= 20) looks like the model's reference data")
    d.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="image files or folders (scanned as predict does)")
    d.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    d.add_argument("--site", help="a site profile (shipped name or JSON path): its calibration sample is the "
                   "reference when it holds one")
    d.add_argument("--seed", type=int, default=0, help="seed of the permutations")
    d.add_argument("--batch-size", type=int, default=32)
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_drift)
