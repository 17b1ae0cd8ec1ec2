"""Tests for pneumo_core.app.access.page_guard: a page of `pages/` run without the entrypoint.

AppTest runs every page of an app with a `pages/` folder the way a cold server runs a deep
link: the page's file alone (it resets Streamlit's "some session called st.navigation" state
before each run). So each AppTest run below is a cold deep link; tests/test_browser_deep_links.py
does the same against a real server in Chromium."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pneumo_core.app.access import login, page_guard
from pneumo_core.audit import AuditLog

from conftest import APP_ENTRYPOINT, APP_TIMEOUT, REPO
from test_identity import AUTH

PAGES = sorted(str(p.relative_to(REPO)) for p in (REPO / "pages").glob("*.py"))
PACS_TITLE = "Studies from the PACS"
_iat = itertools.count(1_900_000_000)  # each login its own ID token: the door records one record per login


def _deep_link(page: str, user: dict | None = None, secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP_ENTRYPOINT, default_timeout=APP_TIMEOUT)
    if user is not None:
        at.user = user
    at.secrets.update(secrets or {})
    return at.switch_page(page).run()


def _titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_every_page_starts_with_the_guard():
    """The guard is the page's first statement after its docstring and imports: nothing is drawn or
    read before the door is passed."""
    import ast
    for page in PAGES:
        body = ast.parse((REPO / page).read_text()).body
        first = next(n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))
                     and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)))
        assert ast.unparse(first).startswith("page_guard.entry("), (page, ast.unparse(first))


@pytest.mark.parametrize("page", PAGES)
def test_an_anonymous_deep_link_to_any_page_shows_only_the_login(page):
    at = _deep_link(page, {"is_logged_in": False}, {"auth": AUTH})
    assert not at.exception
    assert _titles(at) == [login.TITLE]
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.get("file_uploader") and not at.sidebar.selectbox and not at.dataframe


def test_a_readers_deep_link_to_the_pacs_page_shows_no_pacs():
    reader = {"is_logged_in": True, "email": "guard-reader@example.org", "sub": "gr", "roles": ["reader"],
              "iat": next(_iat)}
    at = _deep_link("pages/pacs.py", reader, {"auth": AUTH})
    assert not at.exception
    assert PACS_TITLE not in _titles(at) and "Pneumonia on a chest radiograph" in _titles(at)  # the default page
    assert not [t for t in at.text_input if "PACS" in t.label or "Accession" in t.label]


def test_without_login_a_deep_link_opens_its_page_inside_the_entrypoint():
    at = _deep_link("pages/model_card.py")
    assert not at.exception
    assert [t for t in _titles(at) if t.startswith("Model card")]
    assert "Saliency method" in [s.label for s in at.sidebar.selectbox]  # drawn by the entrypoint after the page


# The guard itself, on a small app of its own: an entrypoint that counts its runs and a page.
ENTRY = """
import streamlit as st
from pneumo_core.app.access import page_guard
st.session_state.setdefault("runs", []).append("entrypoint")
navigation = st.navigation([st.Page("pages/home.py", default=True), st.Page("pages/form.py"),
                            st.Page("pages/reporters.py")])
with page_guard.entered():
    navigation.run()
"""
HOME = "import streamlit as st\nst.write('home')\n"
FORM = """
import streamlit as st
from pneumo_core.app.access import page_guard
page_guard.entry()
st.session_state["runs"].append("form")
if st.button("Send", key="send"):
    st.session_state["runs"].append("sent")
"""
REPORTERS = """
import streamlit as st
from pneumo_core.app.access import identity, page_guard
page_guard.entry(identity.REPORTER, page="reporters")
st.session_state["runs"].append("reporters")
"""


@pytest.fixture
def small_app(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "pages").mkdir()
    for name, text in {"entry.py": ENTRY, "pages/home.py": HOME, "pages/form.py": FORM,
                       "pages/reporters.py": REPORTERS}.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(page_guard, "ENTRYPOINT", tmp_path / "entry.py")
    return tmp_path / "entry.py"


def test_a_page_run_alone_runs_the_entrypoint_in_its_place_and_keeps_the_button_press(small_app):
    at = AppTest.from_file(str(small_app)).run()
    at.switch_page("pages/form.py").run()
    assert not at.exception
    assert at.session_state["runs"] == ["entrypoint", "entrypoint", "form"]  # the page once, inside
    at.button(key="send").click().run()
    assert at.session_state["runs"][3:] == ["entrypoint", "form", "sent"]  # a rerun would have dropped the press


def test_inside_the_entrypoint_the_guard_checks_the_pages_role_and_records_the_refusal(small_app,
                                                                                      audit_trail_in_a_temporary_file):
    reader = {"is_logged_in": True, "email": "guard-role@example.org", "sub": "gx", "roles": ["reader"],
              "iat": next(_iat)}
    at = AppTest.from_file(str(small_app))
    at.user, at.secrets["auth"] = reader, AUTH
    at.run().switch_page("pages/reporters.py").run()
    assert at.session_state["runs"] == ["entrypoint", "entrypoint"]  # the page's body never ran
    assert at.error[0].value == "You do not have access to this page."
    refusals = [r["ids"] for r in AuditLog(audit_trail_in_a_temporary_file).records()
                if r["user"] == "guard-role@example.org" and r["action"] == "access_denied"]
    assert refusals == [{"role": "reporter", "page": "reporters"}]


def test_the_mark_belongs_to_the_entrypoints_navigation_only():
    assert not page_guard.inside_entrypoint()
    with page_guard.entered():
        assert page_guard.inside_entrypoint()
    assert not page_guard.inside_entrypoint()
