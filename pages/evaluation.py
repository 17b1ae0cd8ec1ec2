"""Evaluation: what the current threshold means for patients first (sensitivity and
specificity in words and with 95% CIs, the confusion matrix), then the curves and the
calibration on the official test split under the sidebar's calibration, then both models
side by side. Training curves are on the model card."""
import streamlit as st

from pneumo_core.app.access import page_guard
from pneumo_core.app.review import eval_views, figures, model_card, widgets
from pneumo_core.app.runtime import paths, resources
from pneumo_core.app.settings import operating_controls, operating_point, sidebar

page_guard.entry()

s = sidebar.settings()
meta = resources.model_meta(s.model)

st.title("Evaluation on the official test split")
view = widgets.evaluation_for(s)
if view is not None:
    evaluation = view.evaluation
    widgets.stale_eval_warning(evaluation, meta, s.model, view)
    widgets.calibration_caption(view)

    st.subheader(f"At threshold {s.threshold:.3f} ({operating_controls.operating_point_label(s)})")
    with st.container(border=True):
        st.markdown(operating_point.describe(operating_point.current(s), s.threshold))
    labels, probs, _ = eval_views.eval_arrays(evaluation)
    cm = eval_views.confusion(labels, probs, s.threshold)
    table_col, cm_col = st.columns([1.2, 1])
    table_col.dataframe(eval_views.metrics_table(evaluation, s.threshold), hide_index=True, width="stretch")
    with cm_col:
        st.plotly_chart(figures.confusion_figure(cm, s.threshold), width="stretch")
        st.caption(eval_views.confusion_caption(cm))
    st.markdown(model_card.prevalence_note(evaluation, meta))
    st.caption(model_card.test_split_caption(view, s.model, eval_views.N_BOOT))

    st.subheader("Curves")
    roc_col, pr_col = st.columns(2)
    roc_col.plotly_chart(figures.roc_figure(evaluation, s.threshold, None if view.is_site else meta), width="stretch")
    pr_col.plotly_chart(figures.pr_figure(evaluation, s.threshold), width="stretch")
    st.caption(f"Circles: the {'site profile' if view.is_site else 'model'}'s presets. Cross: the threshold in the "
               "sidebar.")

    cal_col, text_col = st.columns(2)
    cal_col.plotly_chart(figures.reliability_figure(evaluation), width="stretch")
    with text_col:
        st.markdown(model_card.calibration_in_words(evaluation))
        st.caption(model_card.site_calibration_caption(view, s.site) if view.is_site
                   else model_card.calibration_caption(evaluation, meta))

st.subheader("Both models, calibrated on validation data")
reports = {m: r for m in paths.list_models() if (r := resources.eval_report(m)) is not None}
st.dataframe(model_card.comparison_rows(reports, {m: resources.model_meta(m) for m in reports}), hide_index=True,
             width="stretch")
st.caption("Each model at its own validation-chosen thresholds, values with 95% CIs. A threshold means different "
           "things for different models: each is calibrated separately. The ROC curves do not depend on the "
           "calibration: a site profile changes the probabilities, never their order.")
full_col, zoom_col = st.columns(2)
full_col.plotly_chart(figures.comparison_roc_figure(reports, s.model), width="stretch")
zoom_col.plotly_chart(figures.comparison_roc_figure(reports, s.model, zoom=True), width="stretch")
st.caption("Training curves (loss, accuracy and AUC by epoch) are on the model card.")
