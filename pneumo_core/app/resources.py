"""Streamlit's cached resources, loaded here and nowhere else: model.json, eval_test.json
and history.json (`st.cache_data`, re-read when the file changes), one shared `Predictor`
per model and weights file (`st.cache_resource`), and the background warm-up that imports
torch and the CAM stack so the first page paints before they are ready.

Code that needs torch or the CAM stack gets the module from `import_predictor` /
`import_saliency` / `import_site`, which wait for the warm-up: no heavy module is imported
by two threads at once (`pneumo_core.calibration` imports torch, so even a site profile
is read only after the warm-up has imported it).

Site profiles: the shipped ones (`shipped_site_files`, `site_profile`), the out-of-fold
evaluation of the test-split profile (`site_study_report`) and the test split under any
profile (`evaluation_view`).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ..models.metadata import ModelMetadata, read_metadata
from .paths import DEFAULT_MODEL, example_files, resolve_model_dir

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile
    from .eval_views import EvalView

__all__ = ["model_meta", "selection_record", "eval_report", "history", "warm_up", "import_predictor", "import_saliency", "import_site",
    "get_predictor", "weights_stamp", "saliency_methods", "method_label", "site_study", "shipped_site_files", "site_profile",
    "site_study_report", "profile_key", "evaluation_view"]


def _stamp(path: Path) -> tuple[str, int]:
    st_ = path.stat()
    return str(path), st_.st_mtime_ns ^ st_.st_size  # a replaced file (retrained model) is re-read


@st.cache_data(show_spinner=False, max_entries=32)
def _read_json(path: str, stamp: int):
    return json.loads(Path(path).read_text())


@st.cache_data(show_spinner=False, max_entries=8)
def _read_metadata(path: str, stamp: int) -> ModelMetadata:
    return read_metadata(path)


def model_meta(name: str) -> ModelMetadata:
    """The model's model.json, through the schema's one reader (re-read when the file changes)."""
    return _read_metadata(*_stamp(resolve_model_dir(name) / "model.json"))


def selection_record(name: str) -> dict | None:
    """The model's selection.json (the rounds `select --out` recorded), or None."""
    p = resolve_model_dir(name) / "selection.json"
    return _read_json(*_stamp(p)) if p.is_file() else None


def eval_report(name: str) -> dict | None:
    p = resolve_model_dir(name) / "eval_test.json"
    return _read_json(*_stamp(p)) if p.is_file() else None


def history(name: str) -> list[dict] | None:
    p = resolve_model_dir(name) / "history.json"
    return _read_json(*_stamp(p)) if p.is_file() else None


class _WarmUp:
    """Imports torch, loads the default model and runs one dummy forward pass (the first
    one pays for oneDNN's set-up), then imports the CAM stack and runs one map with its
    blanking check (the first backward pass pays for its own set-up), then imports what the
    pages draw with (plotly, matplotlib for the report). Seconds on a small CPU: done on a
    background thread, started before the server takes requests by `pneumo_core.app.serve`
    or, under a plain `streamlit run`, by the first page load, so the page and its uploader
    render at once. Code that needs those modules waits on the matching event and only then
    imports them itself: no heavy module is imported by two threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.predictor_ready = threading.Event()
        self.saliency_ready = threading.Event()
        self.done = threading.Event()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pneumo-warm-up", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            self._warm()
        finally:
            self.predictor_ready.set()
            self.saliency_ready.set()
            self.done.set()

    def _warm(self) -> None:
        try:
            importlib.import_module("pneumo_core.inference.predictor")  # torch
        finally:
            self.predictor_ready.set()
        prediction = None
        try:
            p = get_predictor(DEFAULT_MODEL)
            prediction = p.predict_radiographs([_warm_up_radiograph()], ["warm-up"])[0]
        except Exception:  # noqa: BLE001 - the page that needs the model reports the failure
            pass
        try:
            from ..inference import saliency  # (pytorch-grad-cam, OpenCV)
        finally:
            self.saliency_ready.set()
        try:
            if prediction is not None and prediction.model_input is not None:
                # a CAM: its first backward pass pays a set-up; occlusion runs forward passes only
                exp = saliency.explain(p, prediction.model_input, method="gradcam", target="PNEUMONIA")
                saliency.blanking_check(p, exp)
        except Exception:  # noqa: BLE001 - as above
            pass
        for module in ("matplotlib.figure", "plotly.express", "pneumo_core.app.case_view", "pneumo_core.app.widgets"):
            importlib.import_module(module)  # the PDF report, the viewer and figures, the pages' helpers (scikit-learn)

    def wait(self, event: threading.Event) -> None:
        """Waits, but lets Streamlit stop or restart the script meanwhile (an upload
        while the page is still loading must not queue behind the imports)."""
        self.start()
        try:
            from streamlit.runtime.scriptrunner_utils.script_run_context import get_run_yield_check
            check = get_run_yield_check()
        except ImportError:  # not in this Streamlit version: a plain wait
            check = None
        while not event.wait(0.1):
            if check is not None:
                check()


def _warm_up_radiograph():
    """A bundled example decoded like an upload (the decoders' first use is paid here too),
    or a flat grey film when the examples are missing."""
    from ..io.ingest import Radiograph, load
    examples = [p for p in example_files() if p.suffix.lower() in (".jpeg", ".jpg", ".png")]
    if examples:
        return load(examples[0].read_bytes(), name=examples[0].name)
    return Radiograph(pixels=np.full((256, 256), 0.5, np.float32), source_format="warm-up")


_WARM = _WarmUp()


def warm_up(wait: bool = False) -> None:
    """Called by the entrypoint on every run; starts the imports once per process. With
    `wait`, returns when they are done (the launcher, `pneumo_core.app.serve`)."""
    _WARM.start()
    if wait:
        _WARM.done.wait()


def import_predictor():
    """`pneumo_core.inference.predictor` (torch), once the warm-up thread has imported it."""
    _WARM.wait(_WARM.predictor_ready)
    from ..inference import predictor
    return predictor


def import_saliency():
    """`pneumo_core.inference.saliency` (pytorch-grad-cam, OpenCV), once the warm-up thread has imported it."""
    _WARM.wait(_WARM.saliency_ready)
    from ..inference import saliency
    return saliency


def import_site():
    """`pneumo_core.calibration.site`: numpy only, so the sidebar need not wait for torch."""
    from ..calibration import site
    return site


@st.cache_resource(show_spinner="Loading the model…")
def _predictor(name: str, stamp: int):
    return import_predictor().Predictor(name)


def weights_stamp(model: str) -> int:
    """Changes when the model's weights file is replaced (a retrained model)."""
    return _stamp(resolve_model_dir(model) / "model.pt")[1]


def get_predictor(name: str):
    """One shared (thread-safe) Predictor per model and weights file."""
    return _predictor(name, weights_stamp(name))


def saliency_methods() -> dict[str, tuple]:
    return import_saliency().METHODS


def method_label(method: str) -> str:
    """The display name of a saliency method key ("gradcam" -> "Grad-CAM")."""
    spec = saliency_methods().get(method)
    return spec.label if spec is not None else method


def shipped_site_files(model: str) -> dict[str, Path]:
    """{name: path} of the site profiles shipped with a model, without importing
    `pneumo_core.calibration` (torch): the same layout as `calibration.site.shipped_profiles`,
    weights/<model>/sites/<name>.json, so the sidebar lists them before the warm-up is done."""
    return {p.stem: p for p in sorted((resolve_model_dir(model) / "sites").glob("*.json"))}


@st.cache_data(show_spinner=False, max_entries=32)
def _site_profile(path: str, stamp: int) -> SiteProfile:
    return import_site().load_profile(path)


def site_profile(path: Path) -> SiteProfile:
    """A shipped profile, re-read when its file changes; raises `SiteProfileError` for a bad file."""
    return _site_profile(*_stamp(Path(path)))


def site_study(model: str) -> dict | None:
    """The whole site_study_test.json (the study by sample size and the out-of-fold evaluation), or None."""
    p = resolve_model_dir(model) / "site_study_test.json"
    return _read_json(*_stamp(p)) if p.is_file() else None


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


@st.cache_data(show_spinner="Recalibrating the test split for this site…", max_entries=16)
def _recalibrated(model: str, eval_stamp: int, key: str, _profile: SiteProfile) -> dict:
    from .eval_views import recalibrated_eval
    import_predictor()  # `evaluate` imports torch: after the warm-up has
    return recalibrated_eval(eval_report(model), _profile)


def evaluation_view(model: str, site: SiteProfile | None, shipped: bool = False) -> EvalView | None:
    """The test split as the chosen calibration reads it (see `eval_views`), or None when the
    model has no eval_test.json. Recalibrating is cached on the profile (`profile_key`)."""
    from . import eval_views
    ev = eval_report(model)
    if ev is None:
        return None
    if site is None:
        return eval_views.source_view(ev)
    import_site()
    study = site_study_report(model) if eval_views.fitted_on_split(site, ev, shipped) else None
    recal = None if study is not None else _recalibrated(model, _stamp(resolve_model_dir(model) / "eval_test.json")[1],
                                                         profile_key(site), site)
    return eval_views.site_view(site, ev, study, recal, shipped)
