"""Adapt to your site (no labels): unlabelled films of the site -> an adapted site profile
(normalisation re-estimated on them, the site's prevalence estimated), the drift alarm on
the batch before and after, and the profile to use in this session or to download."""
import streamlit as st

from pneumo_core.app.reading import scoring
from pneumo_core.app.runtime import formatting
from pneumo_core.app.settings import sidebar
from pneumo_core.app.site import adapt_flow, site_page
from pneumo_core.io.budget import session_budget

s = sidebar.settings()

st.title("Adapt to your site (no labels)")
st.markdown(f"Unlabelled films are what most sites have. Upload at least {adapt_flow.min_films()} of your own, "
            "ideally consecutive cases: the model re-estimates its normalisation on them and estimates your "
            "pneumonia prevalence, without any label. The call keeps the model's own decision rule. How this does "
            "at other sites is measured in the adaptation study (model card). With labels, "
            f"Calibrate for your site measures it at yours. Model: {s.model}. Files are read in memory and never stored.")
name = st.text_input("Site name", value="my site", max_chars=60, key="adapt_page_name")
uploads = st.file_uploader("Unlabelled films of the site", accept_multiple_files=True, type=None, key="adapt_uploads")
kept, over_budget = session_budget(st.session_state).admit("adapt_site", "uploads", [f.size for f in uploads or []])
if over_budget:
    st.warning(over_budget)
files = [(f.name, f.getvalue()) for f in (uploads or [])[:kept]]
if len(files) < adapt_flow.min_films():
    st.caption(f"{len(files)} film(s) so far; at least {adapt_flow.min_films()} are needed.")
elif st.button(f"Adapt to {name or 'my site'} from these {len(files)} films", type="primary", key="adapt_page_go"):
    with st.spinner(f"Reading {len(files)} films, adapting, and running the drift alarm before and after…"):
        before = [scoring.score_file(s.model, data, fname) for fname, data in files]
        outcome = adapt_flow.adapt_batch(s.model, before, name)
        verdicts = ()
        if outcome.profile is not None:
            after = [scoring.score_file(s.model, data, fname, outcome.profile) for fname, data in files]
            verdicts = (scoring.batch_drift(s.model, before, None), scoring.batch_drift(s.model, after, outcome.profile))
    st.session_state["adapt_page_outcome"] = (outcome, verdicts)

stored = st.session_state.get("adapt_page_outcome")
if stored is not None:
    outcome, verdicts = stored
    if outcome.error:
        st.error(formatting.escape_markdown(outcome.error))
    else:
        p = outcome.profile
        st.subheader("The adapted profile")
        st.text("\n".join(adapt_flow.summary_lines(p)))
        for title, verdict in zip(("Before adapting", "After adapting"), verdicts):
            if verdict is not None:
                verdict.show(f"{title}: ")
        use_col, download_col = st.columns(2)
        use_col.button("Use this profile in this session", on_click=site_page.use_in_session, args=(p,),
                       type="primary", key="adapt_use")
        download_col.download_button("Download the profile (JSON)", site_page.profile_json(p),
                                     file_name=site_page.profile_filename(p), mime="application/json",
                                     on_click="ignore")
        if site_page.in_use(p):
            st.success(f"In use in this session: {formatting.escape_markdown(p.describe())}.")
