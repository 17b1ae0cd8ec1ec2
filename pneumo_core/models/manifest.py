"""A bundle's manifest: every file in `weights/<model>/`, what it is, its format, whether it
is bound to the weights, and its one reader; and `manifest.json`, the sha256 of each file as
its writer left it.

One table (`BUNDLE_FILES`) instead of knowledge spread over the packages that read the
files: `verify_bundle` walks it, so a swapped, truncated or stale file is found before a
user meets it, and a new artifact is one row here. A file is *bound* when it records the
weights' sha256 it was made for (a drift reference for other weights is wrong, not corrupt).

Commands that write into a bundle call `write_manifest` last, so a file changed by anything
else (a copy, an edit, a disk) no longer matches.
"""
from __future__ import annotations

import fnmatch
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bundle import sha256_file
from .metadata import MetadataError, read_metadata

__all__ = ["MANIFEST", "MANIFEST_VERSION", "BundleFile", "BUNDLE_FILES", "write_manifest", "restamp_if_in_bundle",
           "verify_bundle"]

MANIFEST, MANIFEST_VERSION = "manifest.json", 1


@dataclass(frozen=True)
class BundleFile:
    pattern: str     # file name, or a glob under the bundle (`sites/*.json`)
    what: str
    format: str      # "json", "npz" or "torch"
    required: bool
    bound: bool      # records `model_sha256`, which must be the weights' own
    reader: str      # the one function that reads it


BUNDLE_FILES = (
    BundleFile("model.pt", "the network's weights (state_dict)", "torch", True, False, "models.bundle.load_bundle"),
    BundleFile("model.json", "what the model is and how its logit becomes a call", "json", True, False,
               "models.metadata.read_metadata"),
    BundleFile("history.json", "training curves", "json", True, False, "app.resources.history"),
    BundleFile("split.json", "the patient-grouped split the model was trained on", "json", True, False,
               "data.dataset.manifest_items"),
    BundleFile("ood.npz", "out-of-distribution model on the penultimate features", "npz", True, False,
               "inference.ood.OODModel.load"),
    BundleFile("orientation.npz", "the input gate's orientation head", "npz", True, True,
               "inference.orientation.OrientationHead.load"),
    BundleFile("orientation.json", "the orientation head's record", "json", True, True,
               "inference.orientation.OrientationHead.load"),
    BundleFile("drift_reference.npz", "the drift alarm's reference features and null", "npz", True, False,
               "monitoring.drift.load_reference"),
    BundleFile("drift_reference.json", "the drift alarm's reference record", "json", True, True,
               "monitoring.drift.load_reference"),
    BundleFile("eval_test.json", "evaluation on the official test split", "json", True, True,
               "app.resources.eval_report"),
    BundleFile("eval_val.json", "evaluation on the validation split", "json", True, True,
               "none: the record of `evaluate --split val`"),
    BundleFile("site_study_test.json", "the cross-fitted site-calibration study", "json", False, True,
               "evaluation.operating_point"),
    BundleFile("selection.json", "the model-selection rounds", "json", False, False, "app.resources.selection"),
    BundleFile("class_moments.npz", "per-class normalisation moments of the training films (site adaptation)",
               "npz", False, False, "adaptation.source.load_class_moments"),
    BundleFile("source_scores.npz", "the validation films' calibrated logits by class (the label-free operating point)",
               "npz", False, False, "adaptation.source.load_source_scores"),
    BundleFile("adapt_study_*.json", "the label-free operating-point study (method choice on validation, protocol on test)",
               "json", False, True, "none: the record of `adapt-study`"),
    BundleFile("sites/*.json", "shipped site profiles", "json", False, True, "calibration.site.load_profile"),
)


def _kind(rel: str) -> BundleFile | None:
    return next((f for f in BUNDLE_FILES if fnmatch.fnmatch(rel, f.pattern)), None)


def _bundle_files(d: Path) -> list[str]:
    """Files under the bundle that the table knows, as paths relative to it (sorted)."""
    found = (p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
    return sorted(rel for rel in found if rel != MANIFEST and _kind(rel) is not None)


def write_manifest(directory: str | Path) -> Path:
    """Records the sha256 of every known file in the bundle; the one writer of `manifest.json`."""
    d = Path(directory)
    meta = read_metadata(d / "model.json")
    files = {rel: {"sha256": sha256_file(d / rel), "what": _kind(rel).what} for rel in _bundle_files(d)}
    body = {"schema_version": MANIFEST_VERSION, "model": meta.name, "model_sha256": meta.model_sha256, "files": files}
    (d / MANIFEST).write_text(json.dumps(body, indent=1) + "\n")
    return d / MANIFEST


def restamp_if_in_bundle(path: str | Path) -> Path | None:
    """After writing `path`: if it lies in a bundle (beside its model.json, or in its `sites/`),
    rewrite that bundle's manifest. Files written elsewhere (a run folder, a temp dir) are left alone."""
    p = Path(path).resolve()
    for d in (p.parent, p.parent.parent):
        if (d / "model.json").is_file() and _kind(p.relative_to(d).as_posix()) is not None:
            return write_manifest(d)
    return None


def _recorded_weights(path: Path, fmt: str) -> str | None:
    """The weights' sha256 a bound file says it was made for (None when it records none)."""
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as z:
            return str(z["model_sha256"]) if "model_sha256" in z.files else None
    return json.loads(path.read_text()).get("model_sha256")


def _readable(path: Path, fmt: str) -> None:
    if fmt == "json":
        json.loads(path.read_text())
    elif fmt == "npz":
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                z[key]


def _manifest(d: Path) -> tuple[dict, list[str]]:
    try:
        m = json.loads((d / MANIFEST).read_text())
    except FileNotFoundError:
        return {}, [f"{MANIFEST}: missing"]
    except ValueError:
        return {}, [f"{MANIFEST}: not valid JSON"]
    if not isinstance(m, dict) or m.get("schema_version") != MANIFEST_VERSION or not isinstance(m.get("files"), dict):
        return {}, [f"{MANIFEST}: not a version {MANIFEST_VERSION} manifest"]
    return m, []


def verify_bundle(directory: str | Path) -> list[str]:
    """One line per problem (empty when every file is present, intact and made for these weights)."""
    d = Path(directory)
    if not (d / "model.json").is_file():
        return ["model.json: missing"]
    try:
        meta = read_metadata(d / "model.json")
    except (MetadataError, FileNotFoundError, ValueError) as exc:
        return [f"model.json: {str(exc).replace(str(d) + '/', '')}"]
    problems = [f"{f.pattern}: missing" for f in BUNDLE_FILES if f.required and not any(d.glob(f.pattern))]
    if (d / "model.pt").is_file() and sha256_file(d / "model.pt") != meta.model_sha256:
        problems.append("model.pt: does not match the sha256 in model.json")
    manifest, bad = _manifest(d)
    problems += bad
    if manifest and manifest.get("model_sha256") != meta.model_sha256:
        problems.append(f"{MANIFEST}: written for other weights")
    recorded = manifest.get("files", {})
    present = _bundle_files(d)
    problems += [f"{rel}: listed in {MANIFEST} but missing" for rel in sorted(set(recorded) - set(present))]
    for rel in present:
        spec, path = _kind(rel), d / rel
        if manifest and rel not in recorded:
            problems.append(f"{rel}: not in {MANIFEST} (written by hand?)")
        elif manifest and recorded[rel].get("sha256") != sha256_file(path):
            problems.append(f"{rel}: changed since its writer recorded it (sha256 differs from {MANIFEST})")
        try:
            _readable(path, spec.format)
            if spec.bound and _recorded_weights(path, spec.format) != meta.model_sha256:
                problems.append(f"{rel}: made for other weights (its model_sha256 is not model.pt's)")
        except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile):
            problems.append(f"{rel}: unreadable as {spec.format}")
    return problems
