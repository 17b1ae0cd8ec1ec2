"""Streamlit's cached resources, loaded here and nowhere else: model.json, eval_test.json
and history.json (`st.cache_data`, re-read when the file changes) and one shared `Predictor`
per model and weights file (`st.cache_resource`).

Code that needs torch or the CAM stack gets the module from `import_predictor` /
`import_saliency` (`readiness`, re-exported here), which wait for the background warm-up, so
no heavy module is imported by two threads at once; `import_site` needs numpy only and
never waits.

Site profiles: the shipped ones (`shipped_site_files`, `site_profile`) and the out-of-fold
evaluation of the test-split profile (`site_study_report`); the test split under any profile
is the review room's (`review.evaluation_view`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from ...models.metadata import ModelMetadata, read_metadata
from .paths import resolve_model_dir
from .readiness import import_predictor, import_saliency, import_site

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile

__all__ = ["model_meta", "selection_record", "eval_report", "history", "import_predictor", "import_saliency", "import_site",
    "get_predictor", "weights_stamp", "saliency_methods", "method_label", "site_study", "adapt_study", "shipped_site_files", "site_profile",
    "site_study_report", "profile_key", "file_stamp"]


def file_stamp(path: Path) -> tuple[str, int]:
    """(path, a number that changes when the file is replaced): the cache key of a file read."""
    st_ = path.stat()
    return str(path), st_.st_mtime_ns ^ st_.st_size  # a replaced file (retrained model) is re-read


@st.cache_data(show_spinner=False, max_entries=32)
def _read_json(path: str, stamp: int):
    return json.loads(Path(path).read_text())


@st.cache_data(show_spinner=False, max_entries=8)
def _read_metadata(path: str, stamp: int) -> ModelMetadata:
    return read_metadata(path)


def _bundle_json(model: str, filename: str) -> dict | list | None:
    """A JSON record in the model's bundle, re-read when its file changes; None when absent."""
    p = resolve_model_dir(model) / filename
    return _read_json(*file_stamp(p)) if p.is_file() else None


def model_meta(name: str) -> ModelMetadata:
    """The model's model.json, through the schema's one reader (re-read when the file changes)."""
    return _read_metadata(*file_stamp(resolve_model_dir(name) / "model.json"))


def selection_record(name: str) -> dict | None:
    """The model's selection.json (the rounds `dev select --out` recorded), or None."""
    return _bundle_json(name, "selection.json")


def eval_report(name: str) -> dict | None:
    return _bundle_json(name, "eval_test.json")


def history(name: str) -> list[dict] | None:
    return _bundle_json(name, "history.json")


@st.cache_resource(show_spinner="Loading the model…")
def _predictor(name: str, stamp: int):
    return import_predictor().Predictor.from_pretrained(name)


def weights_stamp(model: str) -> int:
    """Changes when the model's weights file is replaced (a retrained model)."""
    return file_stamp(resolve_model_dir(model) / "model.pt")[1]


@st.cache_resource(show_spinner="Loading the model with the site's profile…", max_entries=8)
def _site_predictor(name: str, stamp: int, profile: str, adaptation: str, _site: SiteProfile):
    return import_predictor().Predictor.from_pretrained(name, site=_site)


def get_predictor(name: str, site: SiteProfile | None = None):
    """One shared (thread-safe) Predictor per model and weights file, and one per site profile,
    each through the one door, `Predictor.from_pretrained(name, site=profile)`. A profile that
    adapts nothing scores no film itself: its predictor's `on_site` moves the shared one's
    cached scores to the site; an adapted one scores with its own normalisation moments."""
    if site is None:
        return _predictor(name, weights_stamp(name))
    return _site_predictor(name, weights_stamp(name), profile_key(site), site.adaptation_digest, site)


def saliency_methods() -> dict[str, tuple]:
    return import_saliency().METHODS


def method_label(method: str) -> str:
    """The display name of a saliency method key ("gradcam" -> "Grad-CAM")."""
    spec = saliency_methods().get(method)
    return spec.label if spec is not None else method


def shipped_site_files(model: str) -> dict[str, Path]:
    """{name: path} of the site profiles shipped with a model, without importing
    `pneumo_core.calibration` (scikit-learn, SciPy): the same layout as `calibration.site.shipped_profiles`,
    weights/<model>/sites/<name>.json, so the sidebar lists them before the warm-up is done."""
    return {p.stem: p for p in sorted((resolve_model_dir(model) / "sites").glob("*.json"))}


@st.cache_data(show_spinner=False, max_entries=32)
def _site_profile(path: str, stamp: int) -> SiteProfile:
    return import_site().load_profile(path)


def site_profile(path: Path) -> SiteProfile:
    """A shipped profile, re-read when its file changes; raises `SiteProfileError` for a bad file."""
    return _site_profile(*file_stamp(Path(path)))


def site_study(model: str) -> dict | None:
    """The whole site_study_test.json (the study by sample size and the out-of-fold evaluation), or None."""
    return _bundle_json(model, "site_study_test.json")


def adapt_study(model: str) -> dict | None:
    """adapt_study_test.json: the label-free adaptation study by the committed protocol, or None."""
    return _bundle_json(model, "adapt_study_test.json")


def site_study_report(model: str) -> dict | None:
    """site_study_test.json's out-of-fold evaluation (eval_test.json's layout), or None."""
    study = site_study(model)
    return study.get("out_of_fold_evaluation") if study is not None else None


def profile_key(profile: SiteProfile | None) -> str:
    """A short string that changes whenever the profile's calibration does: the cache key of
    everything computed under it (`st.cache_data` cannot hash the profile itself)."""
    if profile is None:
        return "source"
    payload = json.dumps([profile.name, profile.model_sha256, profile.intercept, profile.slope, profile.thresholds,
                          profile.files_sha256, profile.created], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
