"""Entrypoint: page config, the door (`login.admit`), the shared sidebar, and the navigation.
Pages live in pages/ and, once inside this file's navigation, never call st.stop() (the
guard stops only a page run alone, after running this file in its place, and a page whose role
the user lacks), so the saliency controls drawn after them render. Each starts with `page_guard.entry()`: on a cold server Streamlit runs a
deep-linked file there alone, skipping this file and its door, and the guard then runs this
file in its place; `page_guard.entered()` marks the run in which this file's navigation runs
the page. The PACS page is in the navigation only for a reporter (with login; without it, the
one person at the desk holds both roles), so a reader's `/pacs` finds no such page.

No `:material/...:` icons: Streamlit fetches those as images from fonts.gstatic.com, which
a hospital network does not reach (tests/test_browser.py checks that the browser asks no
host but the app's own); no emoji in the page either, which a workstation without an emoji
font shows as empty boxes. The favicon's emoji is drawn by Streamlit itself."""
import streamlit as st

from pneumo_core.app.access import identity, login, page_guard
from pneumo_core.app.settings import sidebar
from pneumo_core.app.runtime import warmup

st.set_page_config(page_title=login.TITLE, page_icon="🩻", layout="wide", initial_sidebar_state="expanded")
if not login.admit():  # with login configured: the login or "no access" page, and nothing else
    st.stop()
pages = [
    st.Page("pages/diagnose.py", title="Diagnose", default=True),
    st.Page("pages/evaluation.py", title="Evaluation"),
    st.Page("pages/normal.py", title="NORMAL cases", url_path="normal"),
    st.Page("pages/pneumonia.py", title="PNEUMONIA cases", url_path="pneumonia"),
    st.Page("pages/model_card.py", title="Model card"),
    st.Page("pages/calibrate_site.py", title="Calibrate for your site", url_path="calibrate_site"),
    st.Page("pages/adapt_site.py", title="Adapt to your site (no labels)", url_path="adapt_site"),
]
if identity.has_role(identity.REPORTER):
    pages.append(st.Page("pages/pacs.py", title="PACS", url_path="pacs"))
navigation = st.navigation(pages)
sidebar.sidebar()
with page_guard.entered():
    navigation.run()
warmup.warm_up()  # after the page, so torch's import does not slow its first paint (`app.serve` warms before)
sidebar.sidebar_saliency()
