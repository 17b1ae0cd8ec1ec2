"""Test-only entrypoint: the app's sidebar and the PACS page alone, so the page's tests need
no other page of streamlit_app.py's navigation."""
from pathlib import Path

import streamlit as st

from pneumo_core.app.access import page_guard
from pneumo_core.app.settings import sidebar

PAGE = Path(__file__).resolve().parents[2] / "pages" / "pacs.py"
navigation = st.navigation([st.Page(PAGE, title="PACS", url_path="pacs", default=True)])
sidebar.sidebar()
with page_guard.entered():  # as streamlit_app.py runs its pages: the guard knows the door was passed
    navigation.run()
