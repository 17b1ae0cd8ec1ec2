"""Nothing for anonymous clients: an ASGI middleware in front of Streamlit's own routes.

Streamlit 1.67 serves its upload endpoint (`/_stcore/upload_file`), its media files (`/media/`,
where a download button's CSV lives) and the websocket's `clear_cache` message (which empties
every user's caches) to any client, signed in or not, and offers no setting for it. It does
offer a public place for such a check: `st.App(..., middleware=[...])` (`streamlit.starlette`),
which `streamlit run` serves when the file it is given defines one (`gated_app.py`; the launcher
uses it whenever login is configured). Without login the middleware lets everything through: the
launcher then serves loopback only.

Signed in means what the door (`login.admit`) lets in: Streamlit's signed identity cookie for
this origin, a login neither logged out nor older than the shift (`sessions`), and a role.
A request to Streamlit's logout route ends the login on the server too (`sessions.revoke`), so a
logout reached other than by the app's button is not undone by a copy of the cookie. The same
middleware marks every cookie `Secure` when the app is reached over https (the
configured `redirect_uri` says so, behind a TLS proxy too, or the connection is TLS itself),
which Streamlit does not do.
"""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Mapping, MutableMapping
from urllib.parse import urlparse

from . import identity, sessions

__all__ = ["SignedInOnly", "PROTECTED_PREFIXES", "LOGOUT_PATH", "cookie_claims", "signed_in_claims",
           "served_over_https"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED_PREFIXES = ("/_stcore/upload_file", "/media/")  # under server.baseUrlPath
LOGOUT_PATH = "/auth/logout"  # Streamlit's (AUTH_LOGOUT_ENDPOINT), where st.logout sends the browser
_USER_COOKIE = "_streamlit_user"  # Streamlit's identity cookie (starlette_server_config.USER_COOKIE_NAME)


def _base_path() -> str:
    from streamlit import config
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


def _redirect_uri() -> str:
    return str(identity.login_settings().get("redirect_uri", ""))


def served_over_https(scope: Scope) -> bool:
    """True when users reach the app over TLS: the login's redirect URI is https (so the browser
    is on https, whatever the proxy in front forwards), or this connection is TLS itself."""
    return urlparse(_redirect_uri()).scheme == "https" or scope.get("scheme") in ("https", "wss")


def cookie_claims(cookies: Mapping[str, str]) -> Mapping[str, Any] | None:
    """The identity in Streamlit's cookie, read as Streamlit's websocket reads it (its signature,
    chunks and origin, with Streamlit's helpers); None when there is none or it does not verify."""
    from streamlit.auth_util import get_cookie_with_chunks
    from streamlit.web.server.server_util import get_cookie_secret
    from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value

    secret = get_cookie_secret()

    def single(name: str) -> bytes | None:
        value = cookies.get(name)
        return decode_signed_value(secret, name, value) if value else None

    raw = get_cookie_with_chunks(single, _USER_COOKIE)
    if not raw:
        return None
    try:
        claims = json.loads(raw)
    except ValueError:
        return None
    uri = urlparse(_redirect_uri())
    if not isinstance(claims, dict) or not claims.get("is_logged_in") or claims.get("origin") != f"{uri.scheme}://{uri.netloc}":
        return None
    return claims


def signed_in_claims(cookies: Mapping[str, str]) -> Mapping[str, Any] | None:
    """The identity in Streamlit's cookie when it is one the door would admit, else None."""
    claims = cookie_claims(cookies)
    if claims is None:
        return None
    settings = identity.auth_settings()
    try:
        if sessions.refusal(claims, sessions.session_hours(settings)):
            return None
    except ValueError:
        return None  # a broken shift setting: the launcher refuses it; here, fail closed
    roles = identity.roles_from_claim(identity.claim_value(claims, str(settings.get("roles_claim", "roles"))))
    return claims if roles else None


def _revoke(cookies: Mapping[str, str]) -> None:
    claims = cookie_claims(cookies)
    login = sessions.login_id(claims) if claims else None
    if login is not None and not sessions.is_revoked(login):
        sessions.revoke(login, float(claims.get("iat") or 0))


def _cookies(scope: Scope) -> dict[str, str]:
    from starlette.requests import HTTPConnection
    return dict(HTTPConnection(scope).cookies)


def _is_clear_cache(message: Message) -> bool:
    data = message.get("bytes")
    if message.get("type") != "websocket.receive" or not data:
        return False
    from streamlit.proto.BackMsg_pb2 import BackMsg
    msg = BackMsg()
    try:
        msg.ParseFromString(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError: Streamlit itself will refuse it
        return False
    return msg.WhichOneof("type") == "clear_cache"


def _secure(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message.get("type") == "http.response.start":
            headers = []
            for name, value in message.get("headers", []):
                if name.lower() == b"set-cookie" and b"secure" not in value.lower():
                    value += b"; Secure"
                headers.append((name, value))
            message["headers"] = headers
        await send(message)
    return sending


class SignedInOnly:
    """Refuses uploads and media files (403, before reading a byte of the body) and drops the
    websocket's `clear_cache` for a client that is not signed in; marks cookies `Secure` over https."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not identity.login_configured():
            await self.app(scope, receive, send)
            return
        if served_over_https(scope):
            send = _secure(send)
        path = scope.get("path", "")
        base = _base_path()
        path = path[len(base):] if base and path.startswith(base) else path
        if scope["type"] == "http":
            if path == LOGOUT_PATH:  # however it is reached, Streamlit's logout ends the login here too
                _revoke(_cookies(scope))
            if path.startswith(PROTECTED_PREFIXES) and signed_in_claims(_cookies(scope)) is None:
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": b"Sign in to use this.\n"})
                return
            await self.app(scope, receive, send)
            return
        if signed_in_claims(_cookies(scope)) is not None:
            await self.app(scope, receive, send)
            return

        async def receiving() -> Message:
            while True:
                message = await receive()
                if not _is_clear_cache(message):
                    return message

        await self.app(scope, receiving, send)
