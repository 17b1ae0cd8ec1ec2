"""The PACS page, driven by AppTest against a real Orthanc: search, score a study with the
Diagnose per-case view, store a report deliberately (the typed accession checked, once);
wildcard searches, a wrong password and an unconfigured app say so. The page is run from a
test entrypoint (tests/pacs/pacs_app.py) with the app's sidebar."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_TIMEOUT, REPO

from harness.orthanc_server import PASSWORD, USER

ENTRY = str(REPO / "tests" / "pacs" / "pacs_app.py")


@pytest.fixture(autouse=True)
def _no_server_from_the_environment(monkeypatch):
    """Reruns as on a server; servers come only from each test's secrets, never the shell's environment."""
    for k in ("PNEUMO_DICOMWEB_URL", "PNEUMO_DICOMWEB_USER", "PNEUMO_DICOMWEB_PASSWORD", "PNEUMO_DICOMWEB_TOKEN",
              "PNEUMO_DICOMWEB_ALLOW_HTTP"):
        monkeypatch.delenv(k, raising=False)


def _app(url: str | None, password: str = PASSWORD, allow_http: bool = True) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=APP_TIMEOUT)
    if url:
        at.secrets["dicomweb"] = {"url": url, "user": USER, "password": password, "allow_http": allow_http}
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


def test_a_study_is_found_scored_and_shown_case_by_case_with_the_patient_only_in_the_case_header(orthanc, loaded):
    """The patient is shown where a reader confirms it (the case's header, plain text), never in a
    table or a markdown line; cases are named by accession, view and date, not "dicomweb:..."."""
    at = _search(_app(orthanc.url), "ACC-1001")
    assert not at.exception
    studies = at.dataframe[0].value
    assert list(studies["accession"]) == ["ACC-1001"] and int(studies["instances"].iloc[0]) == 4
    at = at.button(key="pacs_score").click().run()
    assert not at.exception
    rows = at.dataframe[1].value
    assert len(rows) == 4 and set(rows["label"]) <= {"NORMAL", "PNEUMONIA", "not assessed"}
    assert "not assessed" in set(rows["label"])  # the hand film
    texts = [t.value for t in at.text]
    assert "DOE, JANE · Patient ID PAT-0001 · Sex F · Age 4 y (born 2020-01-01)" in texts
    assert "ACC-1001 · PA · 2024-01-05" in texts and not any("dicomweb:" in t for t in texts)
    assert at.selectbox(key="case_list").options[0] == "1 of 4: ACC-1001 · PA · 2024-01-05 (1)"
    assert list(rows["name"])[:3] == [f"ACC-1001 · PA · 2024-01-05 ({k})" for k in (1, 2, 3)]
    rest = "\n".join(str(e.value) for kind in ("markdown", "caption", "error", "success", "warning", "info")
                     for e in getattr(at, kind)) + "\n".join(df.value.to_string() for df in at.dataframe)
    assert "DOE" not in rest and "PAT-0001" not in rest


def test_a_user_without_the_reporter_role_is_stopped_at_the_top_of_the_page(orthanc, loaded, audit_records,
                                                                            monkeypatch):
    from pneumo_core.app.access import identity
    monkeypatch.setattr(identity, "current_roles", lambda: frozenset({identity.READER}))  # a logged-in reader
    at = _app(orthanc.url)
    assert not at.exception and "do not have access" in at.error[0].value
    assert not [t for t in at.text_input if t.key == "pacs_accession"]
    assert [(r["action"], r["ids"]) for r in audit_records()] == [("access_denied", {"role": "reporter",
                                                                                    "page": "pacs"})]


def _store(at: AppTest, accession: str | None) -> AppTest:
    """Types `accession` into the shown case's report fields (unless None), then clicks "Store"."""
    if accession is not None:
        next(t for t in at.text_input if t.key and t.key.startswith("report_accession_number_")).input(accession)
    return next(b for b in at.button if b.key and b.key.startswith("pacs_store_")).click().run()


def _unescaped(markdown: str) -> str:
    return markdown.replace("\\", "")


PDF_CLASS, SR_CLASS, SC_CLASS = ("1.2.840.10008.5.1.4.1.1.104.1", "1.2.840.10008.5.1.4.1.1.88.33",
                                  "1.2.840.10008.5.1.4.1.1.7")


def test_the_report_its_sr_and_map_are_stored_only_under_the_studys_own_accession_and_only_once(
        orthanc, loaded, client, audit_records):
    """A wrong or missing accession stores nothing; "store" adds the PDF, the structured report
    and the heatmap image beside the film, the page says so, and the SR read back says the P and
    the call the page shows; a second store adds nothing and says so."""
    import io

    import pydicom

    from pneumo_core.app.pacs.pacs_page import ALREADY_SAID
    from pneumo_core.pacs.results_read import read_results
    from pneumo_core.stats.display import format_probability
    at = _search(_app(orthanc.url), "ACC-4004")
    at = at.button(key="pacs_score").click().run()
    before = client.instances(loaded.d.uid)
    at = _store(at, None)  # nothing typed
    assert not at.exception and "type the study's accession number" in at.error[0].value
    at = _store(at, "ACC-1001")  # another study's accession
    assert not at.exception and "not this study's; nothing stored" in at.error[0].value
    assert len(client.instances(loaded.d.uid)) == len(before)
    at = _store(at, "ACC-4004")
    said = _unescaped(at.success[0].value)
    assert not at.exception and said.startswith("Report stored in the study (its own series, instance ")
    assert said.endswith(", with its structured report and heatmap image.")
    after = client.instances(loaded.d.uid)
    new = {r.sop_class: r for r in after if r.sop_uid not in {b.sop_uid for b in before}}
    assert len(after) == len(before) + 3 and set(new) == {PDF_CLASS, SR_CLASS, SC_CLASS}
    back = read_results(pydicom.dcmread(io.BytesIO(client.retrieve(new[SR_CLASS]))))
    (row,) = at.dataframe[1].value.to_dict("records")
    assert format_probability(back.probability) == at.metric[0].value == row["P(pneumonia)"]
    assert said.endswith(f"instance {new[PDF_CLASS].sop_uid}), with its structured report and heatmap image.")
    assert back.call == row["label"] and back.source_sop_uid == loaded.sop["d_film"]
    at = _store(at, None)  # clicked again
    assert not at.exception and _unescaped(at.info[-1].value) == ALREADY_SAID
    assert len(client.instances(loaded.d.uid)) == len(before) + 3
    trail = [(r["user"], r["action"], r["ids"].get("outcome")) for r in audit_records()]
    assert [t for t in trail if t[1] in ("pacs_search", "report_stored")] == [
        ("local", "pacs_search", None), ("local", "report_stored", "refused"), ("local", "report_stored", "refused"),
        ("local", "report_stored", "stored"), ("local", "report_stored", "already-stored")]
    stored = next(r["ids"] for r in audit_records() if r["ids"].get("outcome") == "stored")
    assert stored == {"study_uid": loaded.d.uid, "instance_uid": loaded.sop["d_film"],
                      "report_uid": new[PDF_CLASS].sop_uid, "outcome": "stored"}


@pytest.mark.parametrize("accession", ["", "*", "ACC-10*"])
def test_an_empty_or_wildcard_search_is_refused_with_a_clear_line(orthanc, loaded, accession):
    at = _search(_app(orthanc.url), accession)
    assert not at.exception and at.error[0].value.startswith("Search refused")
    assert not at.dataframe


def test_plain_http_without_allow_http_in_the_secrets_is_refused(orthanc, loaded):
    at = _search(_app(orthanc.url, allow_http=False), "ACC-1001")
    assert not at.exception and "plain http" in at.error[0].value
    assert "allowed only for a test server" in at.error[0].value


def test_a_wrong_password_is_a_clear_error_that_never_shows_it(orthanc, loaded):
    at = _search(_app(orthanc.url, password="wrong-Pa55word"), "ACC-1001")
    assert not at.exception and "refused the credentials" in at.error[0].value
    assert "wrong-Pa55word" not in _all_text(at)


@pytest.mark.parametrize("mode, said", [("endless", "more than 50 instances"),
                                        ("redirect", "redirects are not followed")])
def test_a_hostile_pacs_is_one_line_on_the_page_within_the_servers_configured_cap(mode, said):
    """An endless listing (capped by the server's `max_instances` secret) or a redirected film:
    one line on the page, no exception, and the page's memory does not grow with the attack."""
    import tracemalloc

    from harness.hostile_pacs import HostilePacs, hostile_pacs
    with hostile_pacs(mode) as url:
        at = AppTest.from_file(ENTRY, default_timeout=APP_TIMEOUT)
        at.secrets["dicomweb"] = {"url": url, "allow_http": True, "max_instances": 50}
        at = _search(at.run(), "ACC-1")
        tracemalloc.start()
        try:
            at = at.button(key="pacs_score").click().run()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert HostilePacs.target_hits == []
    assert not at.exception and said in _all_text(at)
    assert peak < 300 * 2**20
