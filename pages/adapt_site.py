"""Adapt to your site (no labels): unlabelled films of the site -> an adapted site profile, then
what changed (which calls, each opening its case), where the call sits now, what the
validation study expects for patients, the drift alarm before and after, and the profile to
use in this session or to download."""
import streamlit as st

from pneumo_core.app.access import page_guard
from pneumo_core.app.reading import case_view, scoring
from pneumo_core.app.runtime import formatting
from pneumo_core.app.settings import sidebar
from pneumo_core.app.site import adapt_flow, site_page
from pneumo_core.io.budget import session_budget

page_guard.entry()

s = sidebar.settings()

st.title("Adapt to your site (no labels)")
st.markdown(f"Unlabelled films are what most sites have. Upload at least {adapt_flow.min_films()} of your own, "
            f"ideally consecutive cases: {adapt_flow.method_in_words()}, without any label. How this does at other "
            "sites is measured in the adaptation study (model card). With labels, Calibrate for your site measures "
            f"it at yours. Model: {s.model}. Files are read in memory and never stored.")
name = st.text_input("Site name", value="my site", max_chars=60, key="adapt_page_name")
uploads = st.file_uploader("Unlabelled films of the site", accept_multiple_files=True, type=None, key="adapt_uploads")
kept, over_budget = session_budget(st.session_state).admit("adapt_site", "uploads", [f.size for f in uploads or []])
if over_budget:
    st.warning(over_budget)
files = [(f.name, f.getvalue()) for f in (uploads or [])[:kept]]
if len(files) < adapt_flow.min_films():
    st.caption(f"{len(files)} film(s) so far; at least {adapt_flow.min_films()} are needed.")
elif st.button(f"Adapt to {name or 'my site'} from these {len(files)} films", type="primary", key="adapt_page_go"):
    bar = st.progress(0.0, text="Starting…")
    st.session_state[adapt_flow.PAGE] = adapt_flow.adapt_files(s.model, files, name, bar.progress)
    bar.empty()

stored = st.session_state.get(adapt_flow.PAGE)
if stored is not None:
    if stored.outcome.error:
        st.error(formatting.escape_markdown(stored.outcome.error))
    else:
        p = stored.outcome.profile
        st.subheader(f"Adapted on {stored.outcome.used} films ({stored.outcome.not_used} not used)")
        adapt_flow.show_outcome(stored.outcome, stored.after, *stored.shifted, adapt_flow.open_on_page, "just above",
                                "adapt_page_open", "at the foot of this page", verdicts=list(zip(("Before adapting", "After adapting"),
                                                                     stored.verdicts)))
        with st.expander("The adapted profile"):
            st.text("\n".join(adapt_flow.summary_lines(p)))
        use_col, download_col = st.columns(2)
        use_col.button("Use this profile in this session", on_click=site_page.use_in_session, args=(p,),
                       type="primary", key="adapt_use")
        download_col.download_button("Download the profile (JSON)", site_page.profile_json(p),
                                     file_name=site_page.profile_filename(p), mime="application/json",
                                     on_click="ignore")
        if site_page.in_use(p):
            st.success(f"In use in this session: {formatting.escape_markdown(p.describe())}.")
        opened = adapt_flow.opened_case(stored)
        if opened is not None:
            st.subheader("Case, on the adapted profile")
            with st.container(border=True):
                case_view.show_case(opened, adapt_flow.adapted_settings(s, p), None)
