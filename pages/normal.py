"""NORMAL: how the model does on the truly-normal test images at the current threshold."""
import streamlit as st

from pneumo_core import app_support as app

s = app.settings()
ev = app.eval_report(s.model)

st.title("NORMAL test cases")
if ev is None:
    st.error(f"No test evaluation for this model. Run `python -m pneumo_core evaluate --model {s.model}`.")
else:
    app.stale_eval_warning(ev, app.model_meta(s.model), s.model)
    st.caption(f"Official test split, model {s.model}, threshold {s.threshold:.3f} ({s.operating_point}). "
               "NORMAL taken as the positive class (its precision is the NPV, its recall the specificity); "
               "95% CIs by bootstrap.")

    table_col, hist_col = st.columns([1, 1.6])
    with table_col:
        st.subheader("Per-class metrics")
        st.dataframe(app.per_class_table(ev, "NORMAL", s.threshold), hide_index=True, width="stretch")
    hist_col.plotly_chart(app.probability_histogram(ev, "NORMAL", s.threshold), width="stretch")

    st.session_state.setdefault("gallery_n", 6)
    n = st.segmented_control("Cases per gallery", [3, 6, 12], key="gallery_n") or 6
    cases, total = app.gallery(ev, "NORMAL", "correct", s.threshold, n)
    st.subheader(f"Correctly cleared ({total}): called NORMAL, most confident first")
    app.show_gallery(cases, total, s, "No normal case is called NORMAL at this threshold.")

    cases, total = app.gallery(ev, "NORMAL", "error", s.threshold, n)
    st.subheader(f"False positives ({total}): over-called PNEUMONIA, most confident errors first")
    app.show_gallery(cases, total, s, "No normal case is over-called at this threshold.")
    st.caption("Heatmaps explain the class the model called, scaled to their own maximum: they show where the model "
               "looked, not a finding.")
