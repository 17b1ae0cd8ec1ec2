"""The background warm-up: torch, the default model, the CAM stack and the pages' plotting
modules are imported and run once, off the page's thread, so the first page paints before
they are ready (`pneumo_core.app.serve` runs it before the server takes requests). Code that
needs one of them waits for it through `readiness`, which this module tells how to start it."""
from __future__ import annotations

import importlib
import threading

import numpy as np

from .paths import DEFAULT_MODEL, example_files
from .readiness import READY
from .resources import get_predictor

__all__ = ["warm_up"]


class _WarmUp:
    """Imports torch, loads the default model and runs one dummy forward pass (the first
    one pays for oneDNN's set-up), then imports the CAM stack and runs one map with its
    blanking check (the first backward pass pays for its own set-up), then imports what the
    pages draw with (plotly, matplotlib for the report). Seconds on a small CPU: done on a
    background thread, started before the server takes requests by `pneumo_core.app.serve`
    or, under a plain `streamlit run`, by the first page load, so the page and its uploader
    render at once. Code that needs those modules waits on the matching event (`readiness`)
    and only then imports them itself: no heavy module is imported by two threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pneumo-warm-up", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            self._warm()
        finally:
            READY.predictor_ready.set()
            READY.saliency_ready.set()
            READY.done.set()

    def _warm(self) -> None:
        try:
            importlib.import_module("pneumo_core.inference.predictor")  # torch
        finally:
            READY.predictor_ready.set()
        prediction = None
        try:
            p = get_predictor(DEFAULT_MODEL)
            prediction = p.predict_radiographs([_warm_up_radiograph()], ["warm-up"])[0]
        except Exception:  # noqa: BLE001 - the page that needs the model reports the failure
            pass
        try:
            from ...inference import saliency  # (pytorch-grad-cam, OpenCV)
        finally:
            READY.saliency_ready.set()
        try:
            if prediction is not None and prediction.model_input is not None:
                # a CAM: its first backward pass pays a set-up; occlusion runs forward passes only
                exp = saliency.explain(p, prediction.model_input, method="gradcam", target="PNEUMONIA")
                saliency.blanking_check(p, exp)
        except Exception:  # noqa: BLE001 - as above
            pass
        for module in ("matplotlib.figure", "plotly.express", "pneumo_core.app.reading.case_view",
                       "pneumo_core.app.review.widgets"):
            importlib.import_module(module)  # the PDF report, the viewer and figures, the pages' helpers (scikit-learn)


def _warm_up_radiograph():
    """A bundled example decoded like an upload, in the decode worker (so the first upload
    does not wait for a worker to start), or a flat grey film when the examples are missing."""
    from ...io.ingest import Radiograph
    from ...io.sandbox import load_untrusted
    examples = [p for p in example_files() if p.suffix.lower() in (".jpeg", ".jpg", ".png")]
    if examples:
        return load_untrusted(examples[0].read_bytes(), name=examples[0].name)
    return Radiograph(pixels=np.full((256, 256), 0.5, np.float32), source_format="warm-up")


_WARM = _WarmUp()
READY.start = _WARM.start


def warm_up(wait: bool = False) -> None:
    """Called by the entrypoint on every run; starts the imports once per process. With
    `wait`, returns when they are done (the launcher, `pneumo_core.app.serve`)."""
    _WARM.start()
    if wait:
        READY.done.wait()
