"""Login and roles end to end: the product's launcher with login configured against a real
OpenID Connect provider (`oidc-provider-mock`, started here on loopback), driven in Debian's
Chromium. One server for the module; each visitor gets a fresh browser context (no cookies).

The provider's accounts: a reader, a reporter (its claim a string, as some directories
send it) and an account with no role for this app. The app reads its login settings from a
secrets file written to a temporary folder (`--secrets.files`), never from the repository.
A missing browser is a failure with instructions, never a skip (see tests/test_browser.py).
"""
from __future__ import annotations

import http.client
import secrets
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import pytest

from harness.local_server import CHROMIUM, free_port, local_server, wait_idle
from pneumo_core.app.runtime import paths
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


# Nothing for anonymous clients (issue #27, item 5): the launcher serves the app behind access.gate when login is on.

UPLOAD_MB, UPLOADS = 50, 20


def _server_pid(url: str) -> int:
    """The launcher's process serving `url` (its command line names the port)."""
    port = str(urlparse(url).port)
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"pneumo_core.app.serve" in argv and port.encode() in argv:
            return int(entry.name)
    raise AssertionError(f"no server process for {url}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@dataclass(frozen=True)
class _Anonymous:
    session_id: str
    cookie: str
    xsrf: str


@contextmanager
def _anonymous_session(url: str) -> Iterator[_Anonymous]:
    """What a client that only ever saw the login page holds: Streamlit's XSRF cookie and a live
    websocket session (its id, as the browser's uploader uses it)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    where = urlparse(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    conn.request("GET", "/_stcore/health")
    answer = conn.getresponse()
    answer.read()
    conn.close()
    cookie = answer.getheader("Set-Cookie", "")
    xsrf = cookie.split(";")[0].split("=", 1)[1] if cookie.startswith("_streamlit_xsrf=") else ""
    jar = f"_streamlit_xsrf={xsrf}" if xsrf else ""
    with connect(f"ws://{where.netloc}/_stcore/stream", additional_headers={"Cookie": jar},
                 subprotocols=["streamlit", xsrf or "x"], open_timeout=30, max_size=None) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        ws.send(rerun.SerializeToString())
        session_id, deadline = "", time.monotonic() + 60
        while not session_id and time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=60))
            if msg.WhichOneof("type") == "new_session":
                session_id = msg.new_session.initialize.session_id
        assert session_id, "no session id from the websocket"
        yield _Anonymous(session_id, jar, xsrf)


def _put(url: str, path: str, size: int, cookie: str = "", xsrf: str = "") -> int | str:
    """PUTs `size` bytes (a multipart file, as Streamlit's uploader sends it) to `path`; the status,
    or "closed" when the server hung up before answering."""
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    where = urlparse(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    try:
        conn.putrequest("PUT", path)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + size + len(tail)))
        if cookie:
            conn.putheader("Cookie", cookie)
        if xsrf:
            conn.putheader("X-Xsrftoken", xsrf)
        conn.endheaders()
        chunk = b"\0" * (1 << 20)
        try:
            conn.send(head)
            for _ in range(size // len(chunk)):
                conn.send(chunk)
            conn.send(chunk[:size % len(chunk)] + tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early: the answer is still read below
        try:
            return conn.getresponse().status
        except (ConnectionError, http.client.HTTPException):
            return "closed"
    finally:
        conn.close()


def test_an_anonymous_client_with_a_live_session_cannot_upload_and_the_server_holds_nothing(server):
    pid = _server_pid(server)
    with _anonymous_session(server) as anonymous:  # the session stays live while it uploads
        before = _rss_mb(pid)
        t0 = time.monotonic()
        answers = [_put(server, f"/_stcore/upload_file/{anonymous.session_id}/{uuid.uuid4()}",
                        (UPLOAD_MB << 20) - 4096, anonymous.cookie, anonymous.xsrf) for _ in range(UPLOADS)]
        took = time.monotonic() - t0
        rise = _rss_mb(pid) - before
    print(f"anonymous uploads: {UPLOADS} x {UPLOAD_MB} MB, answers {sorted(set(map(str, answers)))} in {took:.1f} s; "
          f"server RSS {before:.0f} MB, rise {rise:+.0f} MB")
    assert all(a == 403 for a in answers), answers
    assert rise < 50, f"the server grew by {rise:.0f} MB"


def test_an_anonymous_client_gets_no_media_file_that_a_signed_in_reader_gets(server, provider, visitor, browser):
    _log_in(visitor, server, provider, READER)
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
