"""Who is at the app and what they may do: the login (Streamlit's `st.login`, OpenID Connect)
when the deployer configured one, the two roles, and the audit records made in their name.

Without an `[auth]` section in `.streamlit/secrets.toml` there is no login: the launcher
then serves loopback only, so the user is the one person at this desk, who holds both roles.
With login, roles come from an ID-token claim (`[pneumo_auth] roles_claim`, default `roles`;
a dotted path reaches a nested claim): `reader` scores uploads and views the evaluation; `reporter` also searches the PACS and stores
reports. A user with neither sees only a "no access" page (`login.admit`)."""
from __future__ import annotations

from typing import Any, Mapping

import streamlit as st

from ...audit import default_log

__all__ = ["READER", "REPORTER", "LOCAL_USER", "auth_settings", "login_settings", "login_configured", "current_user", "current_roles",
           "roles_from_claim", "claim_value", "has_role", "require_role", "audit", "audit_once"]

READER, REPORTER = "reader", "reporter"
LOCAL_USER = "local"  # the one person at the desk of a loopback-only app without login
DEFAULT_ROLES_CLAIM = "roles"


def _secret(section: str) -> Any:
    try:
        return st.secrets.get(section)
    except Exception:  # noqa: BLE001 - no secrets file: Streamlit raises its own FileNotFoundError kinds
        return None


def login_settings() -> Mapping[str, Any]:
    """Streamlit's `[auth]` section (redirect URI, client); empty without login."""
    return _secret("auth") or {}


def auth_settings() -> Mapping[str, Any]:
    """The app's own login settings, `[pneumo_auth]` (`roles_claim`, `session_hours`); empty when unset."""
    return _secret("pneumo_auth") or {}


def login_configured() -> bool:
    """True when the deployer configured OpenID Connect (`[auth]` in the app's secrets)."""
    return bool(_secret("auth"))


def current_user() -> str:
    """The logged-in user's e-mail (else subject); `LOCAL_USER` without login; "anonymous" before it."""
    if not login_configured():
        return LOCAL_USER
    if not st.user.is_logged_in:
        return "anonymous"
    return str(st.user.get("email") or st.user.get("sub") or "unknown")[:128]


def roles_from_claim(value: Any) -> frozenset[str]:
    """The claim as a list, or a space- or comma-separated string; reporter implies reader."""
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = [str(v) for v in value]
    else:
        items = []
    roles = {r.strip().lower() for r in items} & {READER, REPORTER}
    return frozenset(roles | {READER}) if REPORTER in roles else frozenset(roles)


def current_roles() -> frozenset[str]:
    """Both roles without login (one person at the desk); the claim's roles for a logged-in user; none before login."""
    if not login_configured():
        return frozenset({READER, REPORTER})
    if not st.user.is_logged_in:
        return frozenset()
    return roles_from_claim(claim_value(st.user, str(auth_settings().get("roles_claim", DEFAULT_ROLES_CLAIM))))


def claim_value(claims: Mapping[str, Any], name: str) -> Any:
    """The claim `name`; failing that, a nested one by dotted path (Keycloak's `realm_access.roles`).
    The whole name is tried first: Auth0's custom claims are URLs, with dots in them."""
    value = claims.get(name)
    if value is not None or "." not in name:
        return value
    value = claims
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def has_role(role: str) -> bool:
    return role in current_roles()


def audit(action: str, **ids: str | int | float | bool) -> None:
    """One audit record in the current user's name."""
    default_log().append(current_user(), action, **ids)


def audit_once(action: str, key: str, **ids: str | int | float | bool) -> None:
    """One record per `key` (a film's sha256) and session: a rerun (a slider, another case and
    back) is not a new action."""
    done = st.session_state.setdefault("audited", set())
    if (action, key) not in done:
        audit(action, **ids)
        done.add((action, key))


def require_role(role: str, page: str = "") -> None:
    """Stops the page (after an audit record) unless the user holds `role`: defence in depth
    behind the navigation, which does not offer the page to others."""
    if has_role(role):
        return
    audit("access_denied", role=role, **({"page": page} if page else {}))
    st.error("You do not have access to this page.")
    st.stop()
