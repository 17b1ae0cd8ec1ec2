"""Scores and heatmaps for uploads and test images, cached with `st.cache_data` on the
file's content hash and the settings that change them (never the threshold or the opacity):
a slider move re-derives the call from the cached probability and re-blends the cached map.
Also the case report, rendered only when its download button is clicked.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import streamlit as st

from ..ingest import IngestError, load
from .cases import CaseResult, blend, content_digest, to_display
from .paths import test_image_bytes
from .resources import get_predictor, import_predictor, import_saliency, method_label, model_meta, weights_stamp

if TYPE_CHECKING:
    from .sidebar import Settings

__all__ = ["score_file", "Heatmap", "heatmap_for", "gallery_case", "split_warnings", "case_report"]


@st.cache_data(show_spinner=False, max_entries=128)  # each entry holds a display copy of the image
def _score(model: str, weights: int, digest: str, name: str, _data: bytes) -> CaseResult:
    result = CaseResult(name=name, digest=digest, model=model)
    try:
        rad = load(_data, name=name)
    except IngestError as exc:
        result.error = str(exc)
        return result
    pred = get_predictor(model).predict_radiographs([rad], [name])[0]
    result.probability, result.warnings, result.ood_score = pred.probability, list(pred.warnings), pred.ood_score
    result.source_format, result.metadata = rad.source_format, dict(rad.metadata)
    result.display = to_display(rad.pixels)
    result.size = (int(rad.pixels.shape[1]), int(rad.pixels.shape[0]))
    return result


def score_file(model: str, data: bytes, name: str) -> CaseResult:
    """Cached on (model and its weights, content hash, name): reruns for a slider never
    re-score. A bad file comes back with `error` set, like `Predictor.predict_bytes`."""
    return _score(model, weights_stamp(model), content_digest(data), name, data)


@dataclass
class Heatmap:
    heatmap: np.ndarray  # float32 SxS in [0, 1], relative
    target_class: str
    method: str
    class_specific: bool
    note: str


@st.cache_data(show_spinner=False, max_entries=256)
def _heatmap(model: str, weights: int, digest: str, method: str, target: str, name: str, _data: bytes) -> Heatmap:
    saliency = import_saliency()
    rad = load(_data, name=name)
    exp = saliency.explain(get_predictor(model), rad, method=method, target=target)
    return Heatmap(np.asarray(exp.heatmap, np.float32), str(exp.target_class), str(exp.method),
                   bool(exp.class_specific), str(exp.note))


def heatmap_for(model: str, data: bytes, name: str, method: str, target: str) -> Heatmap:
    """Cached on (model, content hash, method, class explained); opacity is applied by
    `blend`, so the opacity slider never re-runs the CAM."""
    return _heatmap(model, weights_stamp(model), content_digest(data), method, target, name, data)


@st.cache_data(show_spinner=False, max_entries=512)
def _display(digest: str, name: str, _data: bytes) -> np.ndarray:
    return to_display(load(_data, name=name).pixels)


def gallery_case(model: str, key: str, method: str, target: str, opacity: float) -> np.ndarray:
    """A test image (key from eval_test.json) with its heatmap blended in, both cached."""
    data = test_image_bytes(key)
    name = Path(key).name
    return blend(_display(content_digest(data), name, data), heatmap_for(model, data, name, method, target).heatmap,
                 opacity)


def split_warnings(result: CaseResult) -> tuple[str | None, list[str]]:
    """(the out-of-distribution warning if raised, the other warnings): the app shows the
    first one prominently."""
    ood_warning = import_predictor().OOD_WARNING
    ood = next((w for w in result.warnings if w == ood_warning), None)
    return ood, [w for w in result.warnings if w != ood_warning]


def case_report(result: CaseResult, s: Settings, label: str, hm: Heatmap, overlay: np.ndarray,
                fmt: str = "pdf") -> Callable[[], bytes]:
    """A callable rendering the case report, for `st.download_button(data=...)`: the PDF
    is drawn only when clicked, and matplotlib is imported only then."""
    def render() -> bytes:
        from ..report import ReportCase, render_report
        case = ReportCase(file_name=result.name, probability=float(result.probability), label=label,
                          threshold=s.threshold, operating_point=s.operating_point, model=s.model,
                          image=result.display, overlay=overlay,
                          model_description=model_meta(s.model).get("description", ""),
                          method=method_label(hm.method), target_class=hm.target_class, heatmap_note=hm.note,
                          warnings=list(result.warnings), metadata=dict(result.metadata))
        return render_report(case, fmt)
    return render
