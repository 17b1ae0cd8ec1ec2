"""Entrypoint: page config, the shared sidebar, and the navigation. Pages live in pages/
and never call st.stop(), so the saliency controls drawn after them always render."""
import streamlit as st

from pneumo_core.app import resources, sidebar

st.set_page_config(page_title="Pneumonia detector (research demo)", page_icon=":material/radiology:",
                   layout="wide", initial_sidebar_state="expanded")
navigation = st.navigation([
    st.Page("pages/diagnose.py", title="Diagnose", icon=":material/radiology:", default=True),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/monitoring:"),
    st.Page("pages/normal.py", title="NORMAL cases", icon=":material/check_circle:", url_path="normal"),
    st.Page("pages/pneumonia.py", title="PNEUMONIA cases", icon=":material/pulmonology:", url_path="pneumonia"),
    st.Page("pages/model_card.py", title="Model card", icon=":material/description:"),
    st.Page("pages/calibrate_site.py", title="Calibrate for your site", icon="🎯", url_path="calibrate_site"),
])
sidebar.sidebar()
navigation.run()
resources.warm_up()  # after the page, so torch's import does not slow its first paint
sidebar.sidebar_saliency()
