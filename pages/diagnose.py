"""Diagnose: upload radiographs; per image a probability (under the sidebar's calibration),
the call at the current threshold, warnings and a heatmap; a sortable table and CSV for the
batch, and the drift alarm's verdict on a batch of 20 films or more."""
import streamlit as st

from pneumo_core.app import cases, formatting, paths, resources, scoring, sidebar

s = sidebar.settings()

st.title("Pneumonia on a chest radiograph")
st.info(formatting.disclaimer(s.site.name if s.site else None), icon=":material/info:")

uploads = st.file_uploader(
    "Chest radiographs (frontal view): DICOM (with or without .dcm), PNG, JPEG, TIFF, BMP or WebP",
    accept_multiple_files=True, type=None, key="uploads",
    help="Up to 50 MB per file. Files are read in memory and never stored. DICOM is recognised by its content.")
left, right = st.columns([1, 3])
if left.button("Try the bundled examples", icon=":material/photo_library:"):
    st.session_state["use_examples"] = True
if st.session_state.get("use_examples") and right.button("Remove the examples", type="tertiary"):
    st.session_state["use_examples"] = False

inputs = [(f.name, f.getvalue()) for f in uploads or []]
if st.session_state.get("use_examples"):
    inputs += [(p.name, p.read_bytes()) for p in paths.example_files()]
if not inputs:
    st.caption("Upload one or more radiographs, or try the four bundled test images "
               "(two NORMAL, two PNEUMONIA from the official test split).")
else:
    with st.spinner(f"Scoring {len(inputs)} image(s)…"):
        results = [scoring.score_file(s.model, data, name, s.site) for name, data in inputs]

    st.subheader("Results")
    op_text = f"threshold {s.threshold:.3f} ({s.operating_point}), model {s.model}, {s.probability_label}"
    rows = cases.result_rows(results, s.threshold, s.operating_point)
    st.caption(cases.batch_summary(results, s.threshold) + f" · {op_text}")
    drift = scoring.batch_drift(s.model, results, s.site)
    if drift is not None:
        show = {None: st.info, True: st.warning, False: st.success}[drift.shifted]
        show(drift.text, icon=":material/query_stats:")
    st.dataframe(rows, hide_index=True, width="stretch",  # threshold, model, calibration: caption and CSV
                 column_order=["file", "P(pneumonia)", "label", "warnings / error"], column_config={
                     "P(pneumonia)": st.column_config.ProgressColumn(s.probability_label, format="%.3f",
                                                                     min_value=0.0, max_value=1.0),
                     "warnings / error": st.column_config.TextColumn(width="large")})
    st.download_button("Download the table (CSV)", cases.rows_to_csv(rows), file_name="pneumonia_results.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:")

    for i, (r, (name, data)) in enumerate(zip(results, inputs)):
        with st.container(border=True):
            st.text(r.name)
            if r.not_assessed:  # read, but the input gate withholds the call
                img_col, msg_col = st.columns([1, 2])
                img_col.image(r.display, caption="Radiograph as decoded", width="stretch")
                msg_col.warning("**Not assessed.** " + formatting.escape_markdown(r.not_assessed), icon="⚠️")
                for w in r.warnings:
                    if w != r.not_assessed:
                        msg_col.warning(formatting.escape_markdown(w), icon="⚠️")
                with st.expander("Details"):
                    st.dataframe(cases.case_details(r), hide_index=True, width="stretch")
                continue
            if not r.ok:
                st.error("Not scored: " + formatting.escape_markdown(r.error), icon=":material/error:")
                continue
            label = cases.label_at(r.probability, s.threshold)
            ood, other_warnings = scoring.split_warnings(r)
            if ood:
                st.warning("**Out of distribution.** " + formatting.escape_markdown(ood), icon=":material/warning:")
            img_col, heat_col, num_col = st.columns([1, 1, 1])
            with num_col:
                st.metric(s.probability_label, formatting.format_probability(r.probability))
                st.progress(float(r.probability))
                st.badge(f"{label} at threshold {s.threshold:.3f}", color="orange" if label == "PNEUMONIA" else "blue",
                         icon=":material/pulmonology:" if label == "PNEUMONIA" else ":material/check:")
                if abs(r.probability - s.threshold) < cases.BORDERLINE:
                    st.caption(f"Borderline: within {cases.BORDERLINE} of the threshold; the call could go either way.")
                for w in other_warnings:
                    st.warning(formatting.escape_markdown(w), icon=":material/warning:")
            with img_col:
                st.image(r.display, caption="Radiograph as decoded", width="stretch")
            with heat_col:
                with st.spinner("Computing the heatmap…"):
                    hm = scoring.heatmap_for(s.model, data, name, s.method, label)
                method_label = resources.method_label(hm.method)
                overlay = cases.blend(r.display, hm.heatmap, s.opacity)
                st.image(overlay, caption=f"{method_label}: explains {hm.target_class} (red: strongest, untinted: none)",
                         width="stretch")
                st.caption(formatting.escape_markdown(hm.note))
            with st.expander("Details"):
                st.dataframe(cases.case_details(r),
                             hide_index=True, width="stretch")
            st.download_button("Case report (PDF)", scoring.case_report(r, s, label, hm, overlay),
                               file_name=formatting.safe_filename(r.name, "_report.pdf"), mime="application/pdf",
                               on_click="ignore", key=f"report_{i}_{r.digest[:12]}", icon=":material/picture_as_pdf:")
