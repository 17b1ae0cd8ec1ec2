"""A login as a deployment has it, and what an outsider holds instead, for whatever drives the served app
through both (the session benchmark, the login and deep-link browser tests):

- a real OpenID Connect provider on loopback (`oidc-provider-mock`), whose accounts' claims can be
  changed while it runs (as a directory's roles are), and the app's secrets naming it;
- its one-click login and the app's logout, driven in Chromium (a Playwright page);
- Streamlit's identity cookie read and signed as Streamlit does, with the server's own secret (a
  login made hours ago, without waiting hours);
- a client that only ever saw the login page: Streamlit's XSRF cookie and a live websocket session,
  uploads sent as Streamlit's uploader sends them, a websocket `clear_cache`;
- the server's process and its resident memory.
"""
from __future__ import annotations

import http.client
import json
import logging
import secrets
import time
import urllib.request
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import urlparse

__all__ = ["USER_COOKIE", "mock_provider", "set_claims", "write_secrets", "open_app", "log_in", "log_out",
           "identity_claims", "signed_identity", "Client", "client_session", "clear_cache_message", "put_upload",
           "server_pid", "rss_mb"]

USER_COOKIE = "_streamlit_user"  # Streamlit's identity cookie


@contextmanager
def mock_provider(users: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    """`oidc-provider-mock` on a loopback port, with one-click accounts `users` (subject -> claims); its URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    with warnings.catch_warnings():  # its imports of deprecated Authlib modules: a test tool's, not the app's
        import authlib.deprecate  # noqa: F401 - installs an "always" filter for its warnings: ours goes after it
        warnings.simplefilter("ignore", DeprecationWarning)
        from oidc_provider_mock import User, run_server_in_thread
        with run_server_in_thread(user_claims=[User(sub=s, claims=dict(c)) for s, c in users.items()]) as server:
            yield f"http://localhost:{server.server_port}"


def set_claims(provider: str, sub: str, claims: Mapping[str, Any]) -> None:
    """Changes an account's claims at the provider (its next ID token carries them)."""
    request = urllib.request.Request(f"{provider}/users/{sub}", data=json.dumps(dict(claims)).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def write_secrets(path: Path, redirect_uri: str, provider: str) -> str:
    """The app's `[auth]` for `provider`, written to `path`; returns the cookie secret."""
    cookie_secret = secrets.token_hex(32)
    path.write_text(f"""[auth]
redirect_uri = "{redirect_uri}"
cookie_secret = "{cookie_secret}"
client_id = "pneumo-bench"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""")
    return cookie_secret


def open_app(page, url: str, timeout_s: float) -> None:
    from harness.local_server import wait_idle
    page.goto(url)
    page.locator('[data-testid="stApp"]').wait_for(timeout=timeout_s * 1000)
    wait_idle(page, timeout_s)


def log_in(page, url: str, provider: str, account: str, timeout_s: float) -> None:
    """The app's login button, then the provider's one-click account, and back to the app."""
    from harness.local_server import wait_idle
    open_app(page, url, timeout_s)
    page.get_by_role("button", name="Log in").click(timeout=timeout_s * 1000)
    page.wait_for_url(f"{provider}/oauth2/authorize**", timeout=timeout_s * 1000)
    page.get_by_role("button", name=account, exact=True).click()
    page.wait_for_url(f"{url}/**", timeout=timeout_s * 1000)
    page.get_by_text(f"Signed in as {account}").first.wait_for(timeout=timeout_s * 1000)
    wait_idle(page, timeout_s)


def log_out(page, provider: str, timeout_s: float) -> None:
    """The sidebar's button, then the provider's end-session page, back to the app's login."""
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{provider}/oauth2/end_session**", timeout=timeout_s * 1000)
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Log in").wait_for(timeout=timeout_s * 1000)


def identity_claims(cookies: list[dict], cookie_secret: str) -> dict | None:
    """The identity in a browser's Streamlit cookie (Playwright's `context.cookies()`), verified as Streamlit reads it."""
    from streamlit.auth_util import get_cookie_with_chunks
    from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value
    jar = {c["name"]: c["value"] for c in cookies}

    def single(name: str) -> bytes | None:
        return decode_signed_value(cookie_secret, name, jar[name]) if name in jar else None
    raw = get_cookie_with_chunks(single, USER_COOKIE)
    return json.loads(raw) if raw else None


def signed_identity(claims: Mapping[str, Any], cookie_secret: str) -> str:
    """Streamlit's identity cookie value for `claims`, signed as the server signs it."""
    from streamlit.web.server.starlette.starlette_app_utils import create_signed_value
    return create_signed_value(cookie_secret, USER_COOKIE, json.dumps(dict(claims))).decode()


@dataclass
class Client:
    session_id: str
    cookie: str  # the Cookie header it sends
    xsrf: str
    websocket: Any  # websockets' sync client connection, open for the context's life


def _xsrf_from_health(url: str) -> str:
    where = urlparse(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    conn.request("GET", "/_stcore/health")
    answer = conn.getresponse()
    answer.read()
    conn.close()
    cookie = answer.getheader("Set-Cookie", "")
    return cookie.split(";")[0].split("=", 1)[1] if cookie.startswith("_streamlit_xsrf=") else ""


@contextmanager
def client_session(url: str, cookies: Mapping[str, str] | None = None) -> Iterator[Client]:
    """A live websocket session (its id, as the browser's uploader uses it) for a client holding `cookies`
    (a signed-in browser's jar), or, without, what a client that only ever saw the login page holds:
    Streamlit's XSRF cookie."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    jar = dict(cookies) if cookies is not None else {}
    if cookies is None:
        xsrf = _xsrf_from_health(url)
        jar = {"_streamlit_xsrf": xsrf} if xsrf else {}
    xsrf = jar.get("_streamlit_xsrf", "")
    header = "; ".join(f"{k}={v}" for k, v in jar.items())
    with connect(f"ws://{urlparse(url).netloc}/_stcore/stream", additional_headers={"Cookie": header},
                 subprotocols=["streamlit", xsrf or "x"], open_timeout=30, max_size=None) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        ws.send(rerun.SerializeToString())
        session_id, deadline = "", time.monotonic() + 120
        while not session_id and time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=120))
            if msg.WhichOneof("type") == "new_session":
                session_id = msg.new_session.initialize.session_id
        if not session_id:
            raise RuntimeError("no session id from the websocket")
        yield Client(session_id, header, xsrf, ws)


def clear_cache_message() -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    msg = BackMsg()
    msg.clear_cache = True
    return msg.SerializeToString()


def put_upload(url: str, path: str, size: int, cookie: str = "", xsrf: str = "") -> int | str:
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


def server_pid(url: str) -> int:
    """The process serving `url` (its command line names the port after `--server.port`)."""
    port = str(urlparse(url).port).encode()
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if any(a == b"--server.port" and b == port for a, b in zip(argv, argv[1:])):
            return int(entry.name)
    raise LookupError(f"no server process for {url}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("no VmRSS")
