"""Composite UI the pages share: the stale-evaluation warning, the caption saying which
calibration the test numbers are under, the gallery of test cases with their heatmaps, and
the per-class page (NORMAL and PNEUMONIA differ only in words). A thumbnail opens its case in
the viewer (`case_view.show_gallery_case`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from .eval_views import EvalView, eval_consistency, gallery, per_class_table
from .figures import probability_histogram
from ..runtime.formatting import escape_markdown, format_probability
from ..reading.case_view import show_gallery_case
from ..reading.cases import blend
from ..runtime.resources import model_meta, saliency_methods
from .evaluation_view import evaluation_view
from ..reading.scoring import heatmap_for, score_split_film
from ..settings import sidebar
from ..settings.state import Settings

if TYPE_CHECKING:
    from ...models.metadata import ModelMetadata

__all__ = ["stale_eval_warning", "evaluation_for", "calibration_caption", "show_gallery", "gallery_footer", "class_page"]


def stale_eval_warning(evaluation: dict, meta: ModelMetadata, model: str, view: EvalView | None = None) -> None:
    """Shows, on a page built from an evaluation file, why its numbers may be out of date.
    Under a site profile the file is checked against the profile's thresholds, not the model's."""
    thresholds = view.thresholds if view is not None and view.is_site else meta.thresholds
    problems = eval_consistency(evaluation, meta.model_sha256, thresholds)
    if problems:
        command = (f"python -m pneumo_core site study --model {model}" if view is not None and view.out_of_fold
                   else f"python -m pneumo_core dev evaluate --model {model}")
        st.warning("Test results may be out of date: " + "; ".join(problems) + ". Metrics at the current "
                   "threshold are recomputed from the stored per-image predictions; regenerate the file with "
                   f"`{command}`.")


def evaluation_for(settings: Settings) -> EvalView | None:
    """The test split under the sidebar's calibration (`evaluation_view`), or None
    after saying with st.error that the model has no test evaluation."""
    view = evaluation_view(settings.model, settings.site, settings.shipped_site)
    if view is None:
        st.error(f"No test evaluation for this model. Run `python -m pneumo_core dev evaluate --model {settings.model}`.")
    return view


def calibration_caption(view: EvalView) -> None:
    """Says which calibration the page's test numbers are under, and how they were obtained."""
    st.info(view.banner)


def show_gallery(cases: list[dict], total: int, settings: Settings, empty: str, key: str, columns: int = 6) -> None:
    """A row of test cases with their heatmaps (explaining the class the model called),
    file name and probability under each; "Open" shows the case in the viewer."""
    if not cases:
        st.info(empty)
        return
    cols = st.columns(columns)
    for i, case in enumerate(cases):
        with cols[i % columns]:
            result = score_split_film(settings.model, case["file"], settings.site)
            if result.model_input is not None:
                hm = heatmap_for(settings.model, result, settings.method, case["called"], settings.site)
                st.image(blend(result.display, hm.heatmap, settings.opacity, hm.target_class),
                         width="stretch")  # never red on NORMAL
            else:  # not read: the file is shown as it is
                st.image(result.display, width="stretch")
            st.caption(f"{escape_markdown(Path(case['file']).name)}  \nP(pneumonia) "
                       f"{format_probability(case['probability'])}, called {case['called']}")
            if st.button("Open", key=f"open_{key}_{i}", help="The film at full size, with zoom and window/level.",
                         type="tertiary"):
                show_gallery_case(result, settings)
    if total > len(cases):
        st.caption(f"Showing the {len(cases)} most confident of {total}.")


def gallery_footer(method: str, cls: str) -> str:
    """What the gallery's heatmaps show, true for the method in use: a class-specific map
    explains the class called; EigenCAM explains no class."""
    spec = saliency_methods().get(method)
    where = _CLASS_PAGE_TEXT[cls]["footer"]
    if spec is not None and not spec.class_specific:
        return (f"Heatmaps ({spec.label}) show the strongest pattern in the model's features, the same whichever "
                "class is called, scaled to their own maximum: where the model looked, not why it called the class.")
    return "Heatmaps explain the class the model called, scaled to their own maximum: they show where the model " + where


_CLASS_PAGE_TEXT = {
    "NORMAL": dict(
        role="NORMAL taken as the positive class (its precision is the NPV, its recall the specificity); ",
        correct="Correctly cleared ({total}): called NORMAL, most confident first",
        correct_empty="No normal case is called NORMAL at this threshold.",
        error="False positives ({total}): over-called PNEUMONIA, most confident errors first",
        error_empty="No normal case is over-called at this threshold.",
        footer="looked, not a finding."),
    "PNEUMONIA": dict(
        role="PNEUMONIA taken as the positive class; ",
        correct="True positives ({total}): called PNEUMONIA, most confident first",
        correct_empty="No pneumonia case is called PNEUMONIA at this threshold.",
        error="False negatives ({total}): missed, called NORMAL, most confident errors first",
        error_empty="No pneumonia case is missed at this threshold.",
        footer="looked, not where the consolidation is."),
}


def class_page(cls: str) -> None:
    """How the model does on the test images of one true class, at the current threshold."""
    text = _CLASS_PAGE_TEXT[cls]
    settings = sidebar.settings()
    st.title(f"{cls} test cases")
    view = evaluation_for(settings)
    if view is None:
        return
    evaluation = view.evaluation
    stale_eval_warning(evaluation, model_meta(settings.model), settings.model, view)
    calibration_caption(view)
    st.caption(f"Official test split, model {settings.model}, threshold {settings.threshold:.3f} "
               f"({settings.operating_point}), "
               f"P(pneumonia) {view.calibration}. " + text["role"] + "95% CIs by bootstrap.")
    table_col, hist_col = st.columns([1, 1.6])
    with table_col:
        st.subheader("Per-class metrics")
        st.dataframe(per_class_table(evaluation, cls, settings.threshold), hide_index=True, width="stretch")
    hist_col.plotly_chart(probability_histogram(evaluation, cls, settings.threshold, view.calibration), width="stretch")

    st.session_state.setdefault("gallery_n", 6)
    n = st.segmented_control("Cases per gallery", [3, 6, 12], key="gallery_n") or 6
    for kind in ("correct", "error"):
        cases, total = gallery(evaluation, cls, kind, settings.threshold, n)
        st.subheader(text[kind].format(total=total))
        show_gallery(cases, total, settings, text[f"{kind}_empty"], key=kind)
    st.caption(gallery_footer(settings.method, cls))
