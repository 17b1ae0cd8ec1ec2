"""The PACS page, driven by AppTest against a real Orthanc: search, score a study with the
Diagnose per-case view, store a report; a wrong password and an unconfigured app say so.
The page is run from a test entrypoint (tests/pacs/pacs_app.py) with the app's sidebar."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_TIMEOUT, REPO

from .orthanc_server import PASSWORD, USER

ENTRY = str(REPO / "tests" / "pacs" / "pacs_app.py")


@pytest.fixture(autouse=True)
def _no_server_from_the_environment(monkeypatch):
    """Reruns as on a server; servers come only from each test's secrets, never the shell's environment."""
    for k in ("PNEUMO_DICOMWEB_URL", "PNEUMO_DICOMWEB_USER", "PNEUMO_DICOMWEB_PASSWORD", "PNEUMO_DICOMWEB_TOKEN"):
        monkeypatch.delenv(k, raising=False)


def _app(url: str | None, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=APP_TIMEOUT)
    if url:
        at.secrets["dicomweb"] = {"url": url, "user": USER, "password": password}
    return at.run()


def _search(at: AppTest, accession: str) -> AppTest:
    at.text_input(key="pacs_accession").input(accession)
    return next(b for b in at.button if b.label == "Search").click().run()


def _all_text(at: AppTest) -> str:
    parts = [str(e.value) for kind in ("markdown", "caption", "error", "success", "warning", "info", "text")
             for e in getattr(at, kind)]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


def test_without_a_configured_server_the_page_says_how_to_configure_one():
    at = _app(None)
    assert not at.exception and "No PACS is configured" in at.warning[0].value


def test_a_study_is_found_scored_and_shown_case_by_case_without_patient_data(orthanc, loaded):
    at = _search(_app(orthanc.url), "ACC-1001")
    assert not at.exception
    studies = at.dataframe[0].value
    assert list(studies["accession"]) == ["ACC-1001"] and int(studies["instances"].iloc[0]) == 4
    at = at.button(key="pacs_score").click().run()
    assert not at.exception
    rows = at.dataframe[1].value
    assert len(rows) == 4 and set(rows["label"]) <= {"NORMAL", "PNEUMONIA", "not assessed"}
    assert "not assessed" in set(rows["label"])  # the hand film
    assert "DOE" not in _all_text(at) and "PAT-0001" not in _all_text(at)


def test_store_the_report_says_it_was_stored_and_the_study_holds_it(orthanc, loaded, client):
    at = _search(_app(orthanc.url), "ACC-3003")
    at = at.button(key="pacs_score").click().run()
    before = {r.sop_uid for r in client.instances(loaded.c.uid)}
    store = next(b for b in at.button if b.key and b.key.startswith("pacs_store_"))
    at = store.click().run()
    assert not at.exception and "Report stored" in at.success[0].value
    new = [r for r in client.instances(loaded.c.uid) if r.sop_uid not in before]
    assert len(new) == 1 and new[0].sop_class == "1.2.840.10008.5.1.4.1.1.104.1"


def test_a_wrong_password_is_a_clear_error_that_never_shows_it(orthanc, loaded):
    at = _search(_app(orthanc.url, password="wrong-Pa55word"), "ACC-1001")
    assert not at.exception and "refused the credentials" in at.error[0].value
    assert "wrong-Pa55word" not in _all_text(at)
