"""Calibrate for your site: a small labelled sample of the site's own films -> a site profile
(recalibrated probability, thresholds from a stated cost), its cross-fitted estimates with
95% intervals, and the profile to use in this session or to download. Nothing is stored."""
import streamlit as st

from pneumo_core.app.access import page_guard
from pneumo_core.app.runtime import formatting
from pneumo_core.app.settings import sidebar
from pneumo_core.app.site import site_figures, site_page
from pneumo_core.io.budget import session_budget

page_guard.entry()

s = sidebar.settings()

st.title("Calibrate for your site")
st.markdown("The model ranks films better than it knows your site's prevalence and image look. Upload a labelled "
            "sample of your own films, ideally consecutive cases: the page refits the model's probability scale on "
            "them (intercept, and slope with 20+ films per class), derives the thresholds from the cost you state, "
            "and reports cross-fitted estimates. At least 10 films of each class; about 100 of each give precise "
            f"calibration. Model: {s.model}. Files are read in memory and never stored.")

name_col, sampling_col, cost_col = st.columns(3)
name = name_col.text_input("Site name", value="my site", max_chars=60, key="site_name")
sampling = sampling_col.radio("How were these films chosen?", list(site_page.SAMPLING), index=None,
                              format_func=site_page.SAMPLING.get, key="site_sampling")
percent = None
if sampling == site_page.BY_CLASS:
    percent = sampling_col.number_input(
        "The site's pneumonia prevalence (%)", min_value=0.1, max_value=99.9, value=None, step=0.5, format="%.1f",
        placeholder="e.g. 8", key="site_prevalence",
        help="The share of the site's chest films that show pneumonia, from its own records.")
cost = cost_col.number_input("Miss : false-alarm cost ratio", min_value=1.0, max_value=100.0, value=4.0, step=0.5,
                             key="site_cost",
                             help="How many false alarms one missed pneumonia weighs; sets the screening threshold.")

normal_col, pneumonia_col = st.columns(2)
normal = normal_col.file_uploader("NORMAL films", accept_multiple_files=True, type=None, key="site_normal")
pneumonia = pneumonia_col.file_uploader("PNEUMONIA films", accept_multiple_files=True, type=None, key="site_pneumonia")
zipped = st.file_uploader("Or a zip with NORMAL/ and PNEUMONIA/ folders (optional)", type=["zip"],
                          accept_multiple_files=True, key="site_zip")

budget = session_budget(st.session_state)
kept = {}
for key, files in (("normal", normal), ("pneumonia", pneumonia), ("zip", zipped)):
    n, over_budget = budget.admit("calibrate_site", key, [f.size for f in files or []])
    kept[key] = (files or [])[:n]
    if over_budget:
        st.warning(over_budget)
r = site_page.calibrate(s.model, kept["normal"], kept["pneumonia"], kept["zip"], name=name, sampling=sampling,
                        prevalence_percent=percent, cost_ratio=cost)
for note in r.notes:
    st.caption(formatting.escape_markdown(note))
if r.skipped:
    st.warning(f"{len(r.skipped)} file(s) could not be read and were skipped:")
    st.dataframe(site_page.skipped_rows(r.skipped), hide_index=True, width="stretch")
if r.error:
    st.error(formatting.escape_markdown(r.error))
elif r.question:
    st.info(r.question)
elif r.profile is None:
    st.caption("Upload at least 10 NORMAL and 10 PNEUMONIA films (or a zip) to fit a profile.")
else:
    p = r.profile
    st.subheader("Cross-fitted estimates at the balanced threshold")
    st.dataframe(site_page.estimates_rows(p), hide_index=True, width="stretch")
    st.caption(p.estimates["method"] + ".")
    for w in p.warnings:
        st.warning(w)
    st.text("\n".join(site_page.summary_lines(p)))

    rel_col, roc_col = st.columns(2)
    rel_col.plotly_chart(site_figures.reliability_before_after(r.labels, r.before, r.after), width="stretch")
    roc_col.plotly_chart(site_figures.site_roc_figure(r.labels, r.after, p.thresholds), width="stretch")
    study = site_page.site_study(s.model)
    if study:
        st.plotly_chart(site_figures.study_figure(study, p.estimates, len(r.labels)), width="stretch")
        st.caption("Bands: the range holding 95% of the study's draws of that size from the official test split; "
                   "crosses: your sample's estimates and 95% intervals.")
    else:
        st.info(f"No site study for {s.model}: run `python -m pneumo_core site study --model {s.model}`.")

    use_col, download_col = st.columns(2)
    use_col.button("Use this profile in this session", on_click=site_page.use_in_session, args=(p,),
                   type="primary", key="site_use")
    download_col.download_button("Download the profile (JSON)", site_page.profile_json(p),
                                 file_name=site_page.profile_filename(p), mime="application/json", on_click="ignore")
    if site_page.in_use(p):
        st.success(f"In use in this session: {formatting.escape_markdown(p.describe())}.")
