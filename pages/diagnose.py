"""Diagnose: upload radiographs; one case at a time (previous/next, keys): the film in the
viewer with its heatmap, and beside it the probability under the sidebar's calibration, the
call at the current threshold and what that threshold means for patients, warnings, the
report fields and the PDF; below, the batch's table (a row opens its case), CSV and drift
verdict (with, when it fires, the offer to adapt to the site without labels)."""
import streamlit as st

from pneumo_core.app.access import page_guard
from pneumo_core.app.reading import case_view, cases, patient, report_form, scoring
from pneumo_core.app.reading import results_table
from pneumo_core.app.runtime import formatting, paths
from pneumo_core.app.settings import operating_point, sidebar
from pneumo_core.app.site import adapt_flow
from pneumo_core.io.budget import session_budget

page_guard.entry()

s = sidebar.settings()

st.title("Pneumonia on a chest radiograph")
st.info(formatting.disclaimer(s.site))

up_col, examples_col = st.columns([4, 1], vertical_alignment="bottom")  # one row: the film starts higher
uploads = up_col.file_uploader(
    "Chest radiographs (frontal view): DICOM (with or without .dcm), PNG, JPEG, TIFF, BMP or WebP",
    accept_multiple_files=True, type=None, key="uploads",
    help="Up to 50 MB per file. Files are read in memory and never stored. DICOM is recognised by its content.")
if examples_col.button("Try the bundled examples", width="stretch"):
    st.session_state["use_examples"] = True
if st.session_state.get("use_examples") and examples_col.button("Remove the examples", type="tertiary"):
    st.session_state["use_examples"] = False

kept, over_budget = session_budget(st.session_state).admit("diagnose", "uploads", [f.size for f in uploads or []])
if over_budget:
    st.warning(over_budget)
inputs = [(f.name, f.getvalue()) for f in (uploads or [])[:kept]]
if st.session_state.get("use_examples"):
    inputs += [(p.name, p.read_bytes()) for p in paths.example_files()]
if not inputs:
    st.caption("Upload one or more radiographs, or try the four bundled test images "
               "(two NORMAL, two PNEUMONIA from the official test split).")
else:
    with st.spinner(f"Scoring {len(inputs)} image(s)…"):
        results = [scoring.score_file(s.model, data, name, s.site) for name, data in inputs]

    case_view.show_batch(results, s, operating_point.current(s))  # first: film, call and P without scrolling

    st.subheader("Results")
    op_text = f"threshold {s.threshold:.3f} ({s.operating_point}), model {s.model}, {s.probability_label}"
    rows = cases.result_rows(results, s.threshold, s.operating_point,
                             report_form.typed_accessions([r.digest for r in results]))
    st.caption(cases.batch_summary(results, s.threshold) + f" · {op_text}")
    drift = scoring.batch_drift(s.model, results, s.site)
    if drift is not None:
        drift.show()
        adapt_flow.offer(s.model, results, s.site, drift.shifted)
    st.dataframe(results_table.screen_rows(rows), hide_index=True, width="stretch",  # the rest: caption, CSV
                 key=case_view.table_key(), on_select="rerun", selection_mode="single-row",  # read by show_batch
                 column_order=results_table.COLUMNS, column_config=results_table.column_config(s.probability_label))
    st.caption("Pick a row to open its case (above).")
    file_names, who = report_form.file_names_choice(), patient.identity_choice()
    st.download_button("Download the table (CSV)", cases.rows_to_csv(rows, file_names, [r.identity for r in results]
                                                                     if who else None), file_name="pneumonia_results.csv",
                       mime="text/csv", on_click="ignore")
