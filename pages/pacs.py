"""PACS: search a configured DICOMweb server (an exact accession number, or a few days), score
a study's chest films with the same per-case view as Diagnose, and store a case's report in the
study (reporters only)."""
import streamlit as st

from pneumo_core.app.access import identity, page_guard
from pneumo_core.app.pacs import pacs_page
from pneumo_core.app.reading import case_view, cases, results_table, scoring
from pneumo_core.app.runtime import formatting
from pneumo_core.app.settings import operating_point, sidebar
from pneumo_core.pacs import store
from pneumo_core.pacs.client import PacsError, PacsRefused

page_guard.entry(identity.REPORTER, page="pacs")
s = sidebar.settings()
ss = st.session_state

st.title("Studies from the PACS")
st.info(formatting.disclaimer(s.site))

servers = pacs_page.configured_servers()
if not servers:
    st.warning("No PACS is configured. The deployer names the allowed DICOMweb server(s) in the app's secrets "
               "(`[dicomweb]` with `url`, and `user`/`password` or `token`) or in `PNEUMO_DICOMWEB_URL`; "
               "see docs/pacs.md.")
else:
    by_name = {sv.name: sv for sv in servers}
    server = by_name[st.selectbox("PACS server", list(by_name), key="pacs_server",
                                  help="The servers this installation is configured for.")]
    st.caption(pacs_page.SEARCH_HELP)
    with st.form("pacs_search"):
        left, mid, right = st.columns([2, 2, 1])
        accession = left.text_input("Accession number", key="pacs_accession")
        dates = mid.date_input("Study date (a day or a range)", value=(), key="pacs_dates", format="YYYY-MM-DD")
        modalities = right.multiselect("Modality", ["CR", "DX"], default=["CR", "DX"], key="pacs_modalities")
        searched = st.form_submit_button("Search")
    if searched:
        ss.pop(pacs_page.STUDIES, None)
        try:
            ss[pacs_page.STUDIES] = (server.name, pacs_page.search(server, accession, tuple(dates),
                                                                   tuple(modalities) or ("CR", "DX")))
        except PacsRefused as exc:
            st.error("Search " + formatting.escape_markdown(str(exc)))
        except PacsError as exc:
            st.error("Search failed: " + formatting.escape_markdown(str(exc)))

    found = ss.get(pacs_page.STUDIES)
    if found and found[0] == server.name:
        studies = found[1]
        if not studies:
            st.caption("No study matches.")
        else:
            st.dataframe(pacs_page.study_rows(studies), hide_index=True, width="stretch")
            pick = st.selectbox("Study", range(len(studies)), key="pacs_pick",
                                format_func=lambda i: pacs_page.study_label(studies[i]))
            if st.button("Score this study", key="pacs_score", type="primary"):
                ss.pop(pacs_page.SCORED, None)
                with st.spinner("Fetching and scoring the study's films…"):
                    try:
                        ss[pacs_page.SCORED] = pacs_page.score_study(server, studies[pick].study_uid, s.model,
                                                                             s.site)
                    except PacsError as exc:
                        st.error("Could not score the study: " + formatting.escape_markdown(str(exc)))

    scored = ss.get(pacs_page.SCORED)
    if scored is not None and scored.server == server.name and scored.model != s.model:
        st.info(f"This study was scored with {scored.model}; score it again for {s.model}.")
    elif scored is not None and scored.server == server.name and not scored.network_of(s.site):
        st.info("This study was scored by another network than this calibration's (an adapted profile has its "
                "own); score it again.")
    elif scored is not None and scored.server == server.name and not scored.results:
        st.warning("The study holds no image instances to score.")
    elif scored is not None and scored.server == server.name:
        results = [scoring.case_on_site(r, s.site) for r in scored.results]
        st.subheader("Results")
        st.caption(cases.batch_summary(results, s.threshold)
                   + f" · threshold {s.threshold:.3f} ({s.operating_point}), model {s.model}, {s.probability_label}")
        if scored.skipped:
            st.caption("Not images, not shown: " + ", ".join(scored.skipped) + ".")
        st.dataframe(pacs_page.results_rows(results, s.threshold, s.operating_point), hide_index=True,
                     width="stretch", column_order=results_table.COLUMNS,
                     column_config=results_table.column_config(s.probability_label))
        st.subheader("Case")
        i = case_view.case_stepper(cases.case_titles(results))
        r = results[i]
        op = operating_point.current(s)
        with st.container(border=True):
            case_view.show_case(r, s, op)
        if r.ok:
            if st.button("Store the report in PACS", key=f"pacs_store_{r.digest[:12]}"):
                ss.setdefault(pacs_page.STORED, {})[r.digest] = pacs_page.store_report(server, scored, r, s, op)
            outcome = ss.get(pacs_page.STORED, {}).get(r.digest)
            if outcome is not None:
                show = {store.STORED: st.success, store.ALREADY_STORED: st.info}.get(outcome[0], st.error)
                show(formatting.escape_markdown(outcome[1]))
