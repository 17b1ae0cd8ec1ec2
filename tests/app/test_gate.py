"""Tests for pneumo_core.app.access.gate: what a client that is not signed in can no longer do
(upload, fetch media files, clear every user's cache), and the `Secure` cookie over https.

Driven at the ASGI level with Streamlit's own cookie signing and BackMsg protobuf, against a
stand-in for Streamlit's app; tests/test_browser_login.py repeats the uploads and the media file
against the real server as an anonymous client."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.web.server.starlette.starlette_app_utils import create_signed_value

from pneumo_core.app.access import gate, identity, sessions

SECRET = "s" * 32
ORIGIN = "http://127.0.0.1:8501"


@pytest.fixture(autouse=True)
def login_on(monkeypatch):
    """Login configured as in a deployment (`[auth]`), Streamlit's cookie secret known."""
    auth = {"redirect_uri": f"{ORIGIN}/oauth2callback", "cookie_secret": SECRET}
    monkeypatch.setattr(identity, "login_settings", lambda: auth)
    monkeypatch.setattr(identity, "login_configured", lambda: True)
    monkeypatch.setattr(identity, "auth_settings", lambda: {})
    monkeypatch.setattr("streamlit.web.server.server_util.get_cookie_secret", lambda: SECRET)
    return auth


def _claims(**extra) -> dict:
    return {"is_logged_in": True, "origin": ORIGIN, "sub": "r@example.org", "email": "r@example.org",
            "roles": ["reader"], "iat": int(time.time() - 60), "nonce": f"n{time.monotonic_ns()}", **extra}


def _cookie(claims: dict, secret: str = SECRET) -> str:
    return "_streamlit_user=" + create_signed_value(secret, "_streamlit_user", json.dumps(claims)).decode()


class _Streamlit:
    """Stands in for Streamlit's ASGI app: answers 204, and records what it was handed."""

    def __init__(self) -> None:
        self.called = False
        self.received: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        if scope["type"] == "websocket":
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                msg = BackMsg()
                msg.ParseFromString(message["bytes"])
                self.received.append(msg.WhichOneof("type"))
        await send({"type": "http.response.start", "status": 204,
                    "headers": [(b"set-cookie", b"_streamlit_xsrf=abc; Path=/; SameSite=lax")]})
        await send({"type": "http.response.body", "body": b""})


def _http(path: str, cookie: str = "", scheme: str = "http") -> tuple[_Streamlit, list[dict], bool]:
    """One request through the gate: Streamlit's stand-in, what was sent back, whether the body was read."""
    app, sent, read = _Streamlit(), [], []

    async def receive():
        read.append(True)
        return {"type": "http.request", "body": b"\0" * 1024, "more_body": False}

    async def send(message):
        sent.append(message)

    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "http", "path": path, "headers": headers, "scheme": scheme, "method": "PUT"}
    asyncio.run(gate.SignedInOnly(app)(scope, receive, send))
    return app, sent, bool(read)


def _websocket(kinds: list[str], cookie: str = "") -> list[str]:
    """The BackMsg kinds a websocket client sends, as Streamlit's session receives them through the gate."""
    app = _Streamlit()
    messages = []
    for kind in kinds:
        msg = BackMsg()
        if kind == "clear_cache":
            msg.clear_cache = True
        else:
            msg.rerun_script.query_string = ""
        messages.append({"type": "websocket.receive", "bytes": msg.SerializeToString()})
    messages.append({"type": "websocket.disconnect"})

    async def receive():
        return messages.pop(0)

    async def send(message):
        pass

    headers = [(b"cookie", cookie.encode())] if cookie else []
    asyncio.run(gate.SignedInOnly(app)({"type": "websocket", "path": "/_stcore/stream", "headers": headers,
                                        "scheme": "ws"}, receive, send))
    return app.received


@pytest.mark.parametrize("path", ["/_stcore/upload_file/sid/fid", "/media/7afd610d165c589f595e4c62dba730d8.csv"])
def test_an_anonymous_client_is_refused_uploads_and_media_before_the_body_is_read(path):
    app, sent, read = _http(path)
    assert not app.called and not read
    assert sent[0]["status"] == 403


@pytest.mark.parametrize("path", ["/_stcore/upload_file/sid/fid", "/media/x.csv"])
def test_a_signed_in_reader_still_uploads_and_fetches_media(path):
    app, sent, _ = _http(path, _cookie(_claims()))
    assert app.called and sent[0]["status"] == 204


@pytest.mark.parametrize("why, cookie", [
    ("signed with another secret", lambda: _cookie(_claims(), secret="t" * 32)),
    ("for another origin", lambda: _cookie(_claims(origin="http://evil.example"))),
    ("an account without a role", lambda: _cookie(_claims(roles=["radiographer"]))),
    ("a login older than the shift", lambda: _cookie(_claims(iat=int(time.time() - 13 * 3600)))),
    ("not logged in", lambda: _cookie(_claims(is_logged_in=False))),
])
def test_an_identity_the_door_would_refuse_cannot_upload_either(why, cookie):
    app, sent, _ = _http("/_stcore/upload_file/sid/fid", cookie())
    assert not app.called and sent[0]["status"] == 403, why


def test_a_logged_out_login_cannot_upload_with_a_copy_of_its_cookie():
    claims = _claims()
    cookie = _cookie(claims)
    assert _http("/_stcore/upload_file/sid/fid", cookie)[0].called
    sessions.revoke(sessions.login_id(claims), claims["iat"])
    assert not _http("/_stcore/upload_file/sid/fid", cookie)[0].called


def test_an_anonymous_websocket_cannot_clear_every_users_cache_but_still_runs_the_login_page():
    assert _websocket(["rerun_script", "clear_cache", "rerun_script"]) == ["rerun_script", "rerun_script"]


def test_a_signed_in_users_websocket_is_passed_through_whole():
    assert _websocket(["rerun_script", "clear_cache"], _cookie(_claims())) == ["rerun_script", "clear_cache"]


def test_the_pages_themselves_stay_open_to_anonymous_clients_so_they_can_log_in():
    for path in ("/", "/pacs", "/_stcore/health", "/auth/login", "/oauth2callback"):
        assert _http(path)[0].called, path


def test_cookies_are_marked_secure_when_the_app_is_reached_over_https(login_on):
    _, sent, _ = _http("/")
    assert b"Secure" not in dict(sent[0]["headers"])[b"set-cookie"]  # plain http on loopback: a Secure cookie would be lost
    _, sent, _ = _http("/", scheme="https")  # TLS on the connection itself
    assert dict(sent[0]["headers"])[b"set-cookie"].endswith(b"; Secure")
    login_on["redirect_uri"] = "https://pneumo.hospital.example/oauth2callback"  # TLS at a proxy in front
    _, sent, _ = _http("/")
    assert dict(sent[0]["headers"])[b"set-cookie"].endswith(b"; Secure")


def test_without_login_everything_is_passed_through(monkeypatch):
    monkeypatch.setattr(identity, "login_configured", lambda: False)
    assert _http("/_stcore/upload_file/sid/fid")[0].called
    assert _websocket(["clear_cache"]) == ["clear_cache"]


def test_streamlits_logout_route_ends_the_login_on_the_server_however_it_is_reached():
    claims = _claims()
    cookie = _cookie(claims)
    assert _http("/auth/logout", cookie)[0].called  # Streamlit still clears the browser's cookie
    assert sessions.is_revoked(sessions.login_id(claims))
    assert not _http("/media/x.csv", cookie)[0].called
