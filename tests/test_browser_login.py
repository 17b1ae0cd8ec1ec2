"""Login and roles end to end: the product's launcher with login configured against a real
OpenID Connect provider (`oidc-provider-mock`, started here on loopback), driven in Debian's
Chromium. One server for the module; each visitor gets a fresh browser context (no cookies).

The provider's accounts: a reader, a reporter (its claim a string, as some directories
send it) and an account with no role for this app. The app reads its login settings from a
secrets file written to a temporary folder (`--secrets.files`), never from the repository.
A missing browser is a failure with instructions, never a skip (see tests/test_browser.py).
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

from harness.local_server import CHROMIUM, free_port, local_server
from harness.oidc_login import (client_session, log_in, log_out, mock_provider, open_app, put_upload, rss_mb,
                                server_pid, write_secrets)
from pneumo_core.app.runtime import paths
from pneumo_core.audit import AuditLog

# the mock provider calls Authlib APIs that Authlib has deprecated: warnings about a test tool, not the app
pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")]

SLOW_S = 240  # a shared 2-core machine can be slow
SLOW = SLOW_S * 1000  # ms, as Playwright counts
# addresses of this module's own: the whole test session shares one audit trail, and other tests log in too
READER, REPORTER, NOBODY = "browser-reader@example.org", "browser-reporter@example.org", "browser-nobody@example.org"
LEAVER = "browser-leaver@example.org"  # a reporter who logs out, and whose copied cookie is replayed
PACS_TITLE = "Studies from the PACS"
DIAGNOSE_TITLE = "Pneumonia on a chest radiograph"


@pytest.fixture(scope="module")
def provider():
    with mock_provider({READER: {"email": READER, "roles": ["reader"]},
                        REPORTER: {"email": REPORTER, "roles": "reporter"},
                        NOBODY: {"email": NOBODY, "roles": ["radiographer"]},
                        LEAVER: {"email": LEAVER, "roles": ["reporter"]}}) as url:
        yield url


@pytest.fixture(scope="module")
def server(provider, tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get update && apt-get install -y chromium` "
                    "(`make test` does this); Playwright's own browser download is not used here.")
    folder = tmp_path_factory.mktemp("login")
    port = free_port()  # the redirect URI names the app's address before it starts
    secrets_file = folder / "secrets.toml"
    write_secrets(secrets_file, f"http://127.0.0.1:{port}/oauth2callback", provider)
    with local_server(folder / "streamlit.log", flags=["--secrets.files", str(secrets_file)], timeout_s=SLOW_S,
                      port=port) as running:
        yield running.url


def _navigation(page) -> list[str]:
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=SLOW)
    return page.locator('[data-testid="stSidebarNav"] a').evaluate_all(
        "links => links.map(a => new URL(a.href).pathname)")


def _titles(page) -> list[str]:
    return page.locator("h1").all_inner_texts()


def _logins(trail: Path, user: str) -> list[dict]:
    return [r["ids"] for r in AuditLog(trail).records() if r["user"] == user and r["action"] == "login"]


def test_an_anonymous_visitor_sees_only_the_login_even_at_the_pacs_url(server, visitor):
    # the fresh server's first visit, and a deep link: the case where Streamlit would run a pages/ file alone
    open_app(visitor, f"{server}/pacs", SLOW_S)
    visitor.get_by_role("button", name="Log in").wait_for(timeout=SLOW)
    assert PACS_TITLE not in _titles(visitor)
    assert visitor.locator('[data-testid="stSidebarNav"]').count() == 0
    assert visitor.locator('input[type="file"]').count() == 0
    for path in ("", "/evaluation", "/calibrate_site"):
        open_app(visitor, f"{server}{path}", SLOW_S)
        assert [b.strip() for b in visitor.locator("button").all_inner_texts() if b.strip()] == ["Log in"], path
        assert DIAGNOSE_TITLE not in _titles(visitor) and PACS_TITLE not in _titles(visitor)


def test_a_reader_has_no_pacs_page_in_the_navigation_nor_at_its_url(server, provider, visitor,
                                                                     audit_trail_in_a_temporary_file):
    log_in(visitor, server, provider, READER, SLOW_S)
    nav = _navigation(visitor)
    assert "/evaluation" in nav and "/pacs" not in nav
    open_app(visitor, f"{server}/pacs", SLOW_S)  # a new session with the same login: the reader's own navigation
    visitor.get_by_role("heading", name=DIAGNOSE_TITLE).wait_for(timeout=SLOW)  # Streamlit falls back to the default
    assert PACS_TITLE not in _titles(visitor)
    assert visitor.get_by_text("PACS server").count() == 0
    assert _logins(audit_trail_in_a_temporary_file, READER) == [{"role": "reader"}]  # once, though two sessions


def test_a_reporter_reaches_the_pacs_page_and_logs_out(server, provider, visitor, audit_trail_in_a_temporary_file):
    log_in(visitor, server, provider, REPORTER, SLOW_S)
    assert "/pacs" in _navigation(visitor)
    open_app(visitor, f"{server}/pacs", SLOW_S)
    visitor.get_by_role("heading", name=PACS_TITLE).wait_for(timeout=SLOW)
    assert _logins(audit_trail_in_a_temporary_file, REPORTER) == [{"role": "reporter"}]

    log_out(visitor, provider, SLOW_S)  # the provider ends its session too
    open_app(visitor, f"{server}/pacs", SLOW_S)
    visitor.get_by_role("button", name="Log in").wait_for(timeout=SLOW)
    assert PACS_TITLE not in _titles(visitor)


def test_an_account_without_a_role_sees_only_no_access(server, provider, visitor, audit_trail_in_a_temporary_file):
    log_in(visitor, server, provider, NOBODY, SLOW_S)
    visitor.get_by_text("no role in this app").wait_for(timeout=SLOW)
    assert visitor.locator('[data-testid="stSidebarNav"]').count() == 0
    open_app(visitor, f"{server}/evaluation", SLOW_S)
    visitor.get_by_text("no role in this app").wait_for(timeout=SLOW)
    assert DIAGNOSE_TITLE not in _titles(visitor) and visitor.locator('input[type="file"]').count() == 0
    denied = [r["ids"] for r in AuditLog(audit_trail_in_a_temporary_file).records()
              if r["user"] == NOBODY and r["action"] == "access_denied"]
    assert denied == [{"page": "app"}]


def test_a_cookie_copied_before_logout_and_replayed_after_it_is_refused_on_the_server(
        server, provider, browser, visitor, audit_trail_in_a_temporary_file):
    log_in(visitor, server, provider, LEAVER, SLOW_S)
    open_app(visitor, f"{server}/pacs", SLOW_S)
    visitor.get_by_role("heading", name=PACS_TITLE).wait_for(timeout=SLOW)
    copied = visitor.context.cookies()
    assert any(c["name"].startswith("_streamlit_user") for c in copied)
    log_out(visitor, provider, SLOW_S)

    thief = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        thief.add_cookies(copied)
        page = thief.new_page()
        page.goto(f"{server}/pacs")
        # refused: the app sends the browser through Streamlit's logout (it would stay on the PACS page if admitted)
        page.wait_for_url(f"{provider}/oauth2/end_session**", timeout=SLOW)
        assert not any(c["name"].startswith("_streamlit_user") for c in thief.cookies())  # the stale copy is cleared
    finally:
        thief.close()
    denied = [r["ids"] for r in AuditLog(audit_trail_in_a_temporary_file).records()
              if r["user"] == LEAVER and r["action"] == "access_denied"]
    assert denied == [{"page": "session_revoked"}]


# Nothing for anonymous clients (issue #27, item 5): the launcher serves the app behind access.gate when login is on.

UPLOAD_MB, UPLOADS = 50, 20


def test_an_anonymous_client_with_a_live_session_cannot_upload_and_the_server_holds_nothing(server):
    pid = server_pid(server)
    with client_session(server) as anonymous:  # the session stays live while it uploads
        before = rss_mb(pid)
        t0 = time.monotonic()
        answers = [put_upload(server, f"/_stcore/upload_file/{anonymous.session_id}/{uuid.uuid4()}",
                        (UPLOAD_MB << 20) - 4096, anonymous.cookie, anonymous.xsrf) for _ in range(UPLOADS)]
        took = time.monotonic() - t0
        rise = rss_mb(pid) - before
    print(f"anonymous uploads: {UPLOADS} x {UPLOAD_MB} MB, answers {sorted(set(map(str, answers)))} in {took:.1f} s; "
          f"server RSS {before:.0f} MB, rise {rise:+.0f} MB")
    assert all(a == 403 for a in answers), answers
    assert rise < 50, f"the server grew by {rise:.0f} MB"


def test_an_anonymous_client_gets_no_media_file_that_a_signed_in_reader_gets(server, provider, visitor, browser):
    log_in(visitor, server, provider, READER, SLOW_S)
    film = paths.example_files()[0]
    visitor.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW)
    visitor.set_input_files(".st-key-uploads input[type=file]", [str(film)])  # through the gate: signed in
    csv_button = visitor.get_by_role("button", name="Download the table (CSV)")
    csv_button.wait_for(timeout=SLOW)
    with visitor.expect_download(timeout=SLOW) as download:
        csv_button.click()
    media = download.value.url
    assert urlparse(media).path.startswith("/media/")
    assert "P(pneumonia)" in Path(download.value.path()).read_text()  # the results table
    assert visitor.context.request.get(media).status == 200  # the reader's own cookie
    stranger = browser.new_context()
    try:
        answer = stranger.request.get(media)
        assert answer.status == 403 and "P(pneumonia)" not in answer.text()
    finally:
        stranger.close()
