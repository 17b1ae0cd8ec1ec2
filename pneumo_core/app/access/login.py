"""The door: with login configured, who gets past the entrypoint, and the sidebar's account line.

`admit()` runs before the entrypoint declares its navigation. Someone it does not admit gets
a navigation of one hidden page (the login, or "no access"), so no other page exists for
their session: a bookmarked `/pacs` opens that one page, not the PACS. Without login (the
launcher then serves loopback only) everyone is admitted, as the one person at the desk.
Which pages an admitted user sees is the entrypoint's navigation (`identity.has_role`).

Before anyone is admitted, the door asks whether the audit trail can be written
(`audit.readiness`): without it no page may show a result it cannot record, so every visitor
gets one line saying so, and nothing else (the launcher refuses to start in that case; this
covers a plain `streamlit run`, and a trail that stops being writable while the server runs).

Every run also asks `sessions` whether this login still holds: one logged out (in any tab,
with any copy of its cookie) or older than the shift (`[pneumo_auth] session_hours`) is refused
on the server, recorded once, and its browser sent through Streamlit's logout.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import streamlit as st

from ...audit.readiness import trail_problem
from . import identity, sessions

__all__ = ["admit", "account", "log_out", "role_label", "TITLE"]

TITLE = "Pneumonia detector (research demo)"
_RECORDED = "_login_recorded"  # session state: this session's login is accounted for in the audit trail
_SEEN: set[tuple[str, str]] = set()  # (sub, iat) of the ID tokens this server has recorded
_SEEN_LOCK = threading.Lock()
_ENDED = "_session_end_recorded"  # session state: this session's refused login is accounted for
UNRECORDED = ("This app is not available: its audit trail cannot be written, so nothing can be shown or scored. "
              "The server's log says why.")
_log = logging.getLogger(__name__)


def role_label() -> str:
    """The user's highest role, as recorded and shown ("reporter", "reader", or "" for none)."""
    roles = identity.current_roles()
    return identity.REPORTER if identity.REPORTER in roles else identity.READER if identity.READER in roles else ""


def _record_once(action: str, **ids: str) -> None:
    """One audit record per login. A reload or a second tab starts a new Streamlit session
    with the same ID token (same `sub`, same issue time `iat`): that is not a new login."""
    if st.session_state.get(_RECORDED):
        return
    st.session_state[_RECORDED] = True
    issued = st.user.get("iat")
    if issued is not None:
        with _SEEN_LOCK:
            if (str(st.user.get("sub")), str(issued)) in _SEEN:
                return
            _SEEN.add((str(st.user.get("sub")), str(issued)))
    identity.audit(action, **ids)


def _login_page() -> None:
    st.title(TITLE)
    st.write("Sign in with your hospital account to use this app.")
    if st.button("Log in", type="primary", key="login"):
        st.login()


def _no_access_page() -> None:
    st.title(TITLE)
    st.text(f"Signed in as {identity.current_user()}")
    st.error("This account has no role in this app. Ask the administrator for the reader or reporter role.")
    st.button("Log out", key="logout", on_click=log_out)


def log_out() -> None:
    """Ends this login on the server (a copy of its cookie is refused from now on, in every tab
    and process), then lets Streamlit clear the browser's cookie and the provider's session."""
    login = sessions.login_id(st.user)
    if login is not None:
        sessions.revoke(login, float(st.user.get("iat") or 0))
    st.logout()


def _session_refusal() -> str | None:
    """Why the signed-in identity no longer holds (`sessions.refusal`), or None."""
    settings = identity.auth_settings()
    return sessions.refusal(st.user, sessions.session_hours(settings))


def _unavailable_page() -> None:
    st.error(UNRECORDED)


def _only(page: Callable[[], None], title: str) -> None:
    """This session's whole app is `page`: any other URL path falls back to it."""
    st.navigation([st.Page(page, title=title, default=True)], position="hidden").run()


def admit() -> bool:
    """True when the visitor may use the app; otherwise draws the login or "no access" page
    (the only page of their navigation) and returns False. Records the login, or the refusal
    of an account without a role, once per login. With an audit trail that cannot be written,
    nobody is admitted: the one page says so (`UNRECORDED`; the path and the reason go to the
    server's log, not to a visitor)."""
    problem = trail_problem()
    if problem:
        _log.error("pneumo: %s", problem)
        _only(_unavailable_page, "Not available")
        return False
    if not identity.login_configured():
        return True
    if not st.user.is_logged_in:
        _only(_login_page, "Log in")
        return False
    ended = _session_refusal()
    if ended:
        if not st.session_state.get(_ENDED):
            st.session_state[_ENDED] = True
            identity.audit("access_denied", page=f"session_{ended}")
        st.logout()  # clears the browser's stale cookie; the identity is refused here whatever it does
        _only(_login_page, "Log in")
        return False
    role = role_label()
    if not role:
        _record_once("access_denied", page="app")
        _only(_no_access_page, "No access")
        return False
    _record_once("login", role=role)
    return True


def account() -> None:
    """The signed-in user and the log-out button, at the top of the sidebar (login only)."""
    if not identity.login_configured() or not st.user.is_logged_in:
        return
    st.text(f"Signed in as {identity.current_user()} ({role_label()})")  # text: an e-mail is not made a link
    st.button("Log out", key="logout", on_click=log_out)
