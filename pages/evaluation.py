"""Evaluation: test-split metrics with 95% CIs at the current threshold, curves with the
operating point, live confusion matrix, calibration, learning curves, both models."""
import streamlit as st

from pneumo_core import app_support as app

s = app.settings()
ev, meta = app.eval_report(s.model), app.model_meta(s.model)

st.title("Evaluation on the official test split")
if ev is None:
    st.error(f"No test evaluation for this model. Run `python -m pneumo_core evaluate --model {s.model}`.")
else:
    app.stale_eval_warning(ev, meta, s.model)
    st.markdown(app.prevalence_note(ev, meta))
    st.caption(f"Model {s.model}. The test split was not used to choose the model, its thresholds or its "
               f"temperature. 95% CIs: percentile bootstrap over images, {app.N_BOOT} resamples.")

    st.subheader(f"At threshold {s.threshold:.3f} ({s.operating_point})")
    labels, probs, _ = app.eval_arrays(ev)
    cm = app.confusion(labels, probs, s.threshold)
    table_col, cm_col = st.columns([1.2, 1])
    table_col.dataframe(app.metrics_table(ev, s.threshold), hide_index=True, width="stretch")
    with cm_col:
        st.plotly_chart(app.confusion_figure(cm, s.threshold), width="stretch")
        st.caption(app.confusion_caption(cm))

    st.subheader("Curves")
    roc_col, pr_col = st.columns(2)
    roc_col.plotly_chart(app.roc_figure(ev, s.threshold, meta), width="stretch")
    pr_col.plotly_chart(app.pr_figure(ev, s.threshold), width="stretch")
    st.caption("Circles: the model's validation-chosen presets. Cross: the threshold in the sidebar.")

    cal_col, hist_col = st.columns(2)
    with cal_col:
        st.plotly_chart(app.reliability_figure(ev), width="stretch")
        st.caption(app.calibration_caption(ev, meta))
    with hist_col:
        hist = app.history(s.model)
        if hist:
            st.plotly_chart(app.learning_figure(hist, meta.get("best_epoch")), width="stretch")
            st.caption("Validation: patient-grouped split carved from the training data. Dashed line: the "
                       "checkpoint kept.")
        else:
            st.info("No training history for this model.")

st.subheader("Both models")
reports = {m: r for m in app.list_models() if (r := app.eval_report(m)) is not None}
st.dataframe(app.comparison_rows(reports, {m: app.model_meta(m) for m in reports}), hide_index=True, width="stretch")
st.caption("Each model at its own validation-chosen thresholds, values with 95% CIs. A threshold means different "
           "things for different models: each is calibrated separately.")
full_col, zoom_col = st.columns(2)
full_col.plotly_chart(app.comparison_roc_figure(reports, s.model), width="stretch")
zoom_col.plotly_chart(app.comparison_roc_figure(reports, s.model, zoom=True), width="stretch")
