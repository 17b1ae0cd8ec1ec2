"""Login and roles end to end: the product's launcher with login configured against a real
OpenID Connect provider (`oidc-provider-mock`, started here on loopback), driven in Debian's
Chromium. One server for the module; each visitor gets a fresh browser context (no cookies).

The provider's accounts: a reader, a reporter (its claim a string, as some directories
send it) and an account with no role for this app. The app reads its login settings from a
secrets file written to a temporary folder (`--secrets.files`), never from the repository.
A missing browser is a failure with instructions, never a skip (see tests/test_browser.py).
"""
from __future__ import annotations

import secrets
import warnings
from pathlib import Path

import pytest

from harness.local_server import CHROMIUM, free_port, local_server, wait_idle
from pneumo_core.audit import AuditLog

# the mock provider calls Authlib APIs that Authlib has deprecated: warnings about a test tool, not the app
pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")]

SLOW = 240_000  # ms; a shared 2-core machine can be slow
# addresses of this module's own: the whole test session shares one audit trail, and other tests log in too
READER, REPORTER, NOBODY = "browser-reader@example.org", "browser-reporter@example.org", "browser-nobody@example.org"
LEAVER = "browser-leaver@example.org"  # a reporter who logs out, and whose copied cookie is replayed
PACS_TITLE = "Studies from the PACS"
DIAGNOSE_TITLE = "Pneumonia on a chest radiograph"


@pytest.fixture(scope="module")
def provider():
    with warnings.catch_warnings():  # its imports of deprecated Authlib modules
        import authlib.deprecate  # noqa: F401 - installs an "always" filter for its warnings: ours goes after it
        warnings.simplefilter("ignore", DeprecationWarning)
        from oidc_provider_mock import User, run_server_in_thread
    users = [User(sub=READER, claims={"email": READER, "roles": ["reader"]}),
             User(sub=REPORTER, claims={"email": REPORTER, "roles": "reporter"}),
             User(sub=NOBODY, claims={"email": NOBODY, "roles": ["radiographer"]}),
             User(sub=LEAVER, claims={"email": LEAVER, "roles": ["reporter"]})]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def server(provider, tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get update && apt-get install -y chromium` "
                    "(`make test` does this); Playwright's own browser download is not used here.")
    folder = tmp_path_factory.mktemp("login")
    port = free_port()  # the redirect URI names the app's address before it starts
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "pneumo-test"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""")
    with local_server(folder / "streamlit.log", flags=["--secrets.files", str(secrets_file)], timeout_s=240,
                      port=port) as running:
        yield running.url


@pytest.fixture
def visitor(browser):
    """A new visitor: a browser context of its own, without the others' cookies."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def _wait_idle(page) -> None:
    wait_idle(page, SLOW / 1000)


def _open(page, url: str) -> None:
    page.goto(url)
    page.locator('[data-testid="stApp"]').wait_for(timeout=SLOW)
    _wait_idle(page)


def _log_in(page, url: str, provider: str, account: str) -> None:
    """The app's login button, then the provider's one-click account, and back to the app."""
    _open(page, url)
    page.get_by_role("button", name="Log in").click(timeout=SLOW)
    page.wait_for_url(f"{provider}/oauth2/authorize**", timeout=SLOW)
    page.get_by_role("button", name=account, exact=True).click()
    page.wait_for_url(f"{url}/**", timeout=SLOW)
    page.get_by_text(f"Signed in as {account}").first.wait_for(timeout=SLOW)
    _wait_idle(page)


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
    _open(visitor, f"{server}/pacs")
    visitor.get_by_role("button", name="Log in").wait_for(timeout=SLOW)
    assert PACS_TITLE not in _titles(visitor)
    assert visitor.locator('[data-testid="stSidebarNav"]').count() == 0
    assert visitor.locator('input[type="file"]').count() == 0
    for path in ("", "/evaluation", "/calibrate_site"):
        _open(visitor, f"{server}{path}")
        assert [b.strip() for b in visitor.locator("button").all_inner_texts() if b.strip()] == ["Log in"], path
        assert DIAGNOSE_TITLE not in _titles(visitor) and PACS_TITLE not in _titles(visitor)


def test_a_reader_has_no_pacs_page_in_the_navigation_nor_at_its_url(server, provider, visitor,
                                                                     audit_trail_in_a_temporary_file):
    _log_in(visitor, server, provider, READER)
    nav = _navigation(visitor)
    assert "/evaluation" in nav and "/pacs" not in nav
    _open(visitor, f"{server}/pacs")  # a new session with the same login: the reader's own navigation
    visitor.get_by_role("heading", name=DIAGNOSE_TITLE).wait_for(timeout=SLOW)  # Streamlit falls back to the default
    assert PACS_TITLE not in _titles(visitor)
    assert visitor.get_by_text("PACS server").count() == 0
    assert _logins(audit_trail_in_a_temporary_file, READER) == [{"role": "reader"}]  # once, though two sessions


def test_a_reporter_reaches_the_pacs_page_and_logs_out(server, provider, visitor, audit_trail_in_a_temporary_file):
    _log_in(visitor, server, provider, REPORTER)
    assert "/pacs" in _navigation(visitor)
    _open(visitor, f"{server}/pacs")
    visitor.get_by_role("heading", name=PACS_TITLE).wait_for(timeout=SLOW)
    assert _logins(audit_trail_in_a_temporary_file, REPORTER) == [{"role": "reporter"}]

    visitor.get_by_role("button", name="Log out").click()
    visitor.wait_for_url(f"{provider}/oauth2/end_session**", timeout=SLOW)  # the provider ends its session too
    visitor.get_by_role("button", name="End session").click()
    visitor.get_by_role("button", name="Log in").wait_for(timeout=SLOW)
    _open(visitor, f"{server}/pacs")
    visitor.get_by_role("button", name="Log in").wait_for(timeout=SLOW)
    assert PACS_TITLE not in _titles(visitor)


def test_an_account_without_a_role_sees_only_no_access(server, provider, visitor, audit_trail_in_a_temporary_file):
    _log_in(visitor, server, provider, NOBODY)
    visitor.get_by_text("no role in this app").wait_for(timeout=SLOW)
    assert visitor.locator('[data-testid="stSidebarNav"]').count() == 0
    _open(visitor, f"{server}/evaluation")
    visitor.get_by_text("no role in this app").wait_for(timeout=SLOW)
    assert DIAGNOSE_TITLE not in _titles(visitor) and visitor.locator('input[type="file"]').count() == 0
    denied = [r["ids"] for r in AuditLog(audit_trail_in_a_temporary_file).records()
              if r["user"] == NOBODY and r["action"] == "access_denied"]
    assert denied == [{"page": "app"}]


def test_a_cookie_copied_before_logout_and_replayed_after_it_is_refused_on_the_server(
        server, provider, browser, visitor, audit_trail_in_a_temporary_file):
    _log_in(visitor, server, provider, LEAVER)
    _open(visitor, f"{server}/pacs")
    visitor.get_by_role("heading", name=PACS_TITLE).wait_for(timeout=SLOW)
    copied = visitor.context.cookies()
    assert any(c["name"].startswith("_streamlit_user") for c in copied)
    visitor.get_by_role("button", name="Log out").click()
    visitor.wait_for_url(f"{provider}/oauth2/end_session**", timeout=SLOW)
    visitor.get_by_role("button", name="End session").click()
    visitor.get_by_role("button", name="Log in").wait_for(timeout=SLOW)

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
