"""Sessions that end: a login lasts one shift, and logging out ends it on the server.

Streamlit 1.67 keeps the identity in a signed cookie that it honours for 30 days and has no
server-side session to end: `st.logout()` only asks the browser to delete its copy, so a copy
replayed later still signs in (its `AUTH_COOKIE_MAX_AGE_SECONDS`; no revocation hook). The
cookie carries the ID token's claims, signed by our `cookie_secret`, so its issue time (`iat`)
and nonce cannot be altered. This module keeps what Streamlit lacks:

- a per-login id (`login_id`: a digest of issuer, subject, `iat` and `nonce`; a new login gets a
  new ID token, hence a new id, and its roles are read afresh from that token);
- a revocation list beside the audit trail (`revoked_sessions.jsonl`), written at logout and
  read on every page run by the door (`login.admit`), shared by every server process on the host;
- the shift: a login older than `[pneumo_auth] session_hours` (default 12) is refused.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from ...audit import default_path

__all__ = ["DEFAULT_SESSION_HOURS", "MAX_SESSION_HOURS", "COOKIE_LIFETIME_S", "login_id", "session_hours",
           "session_problem", "revoke", "is_revoked", "revocation_path", "refusal"]

DEFAULT_SESSION_HOURS = 12.0  # one shift
MAX_SESSION_HOURS = 24.0 * 30  # Streamlit's cookie lasts 30 days: a longer setting would change nothing
COOKIE_LIFETIME_S = 30 * 24 * 3600  # how long a revocation must be kept: the cookie is refused by Streamlit after it
_LOCK = threading.Lock()
_CACHE: dict[Path, tuple[tuple[int, int], frozenset[str]]] = {}  # path -> ((mtime_ns, size), revoked ids)


def revocation_path() -> Path:
    """`revoked_sessions.jsonl` in the audit trail's folder (`PNEUMO_AUDIT_LOG`'s, else `var/`)."""
    return default_path().parent / "revoked_sessions.jsonl"


def login_id(claims: Mapping[str, Any]) -> str | None:
    """The id of one login: issuer, subject, issue time and nonce of its ID token, digested.
    None without a subject or an issue time (then the login cannot be ended, so it is refused)."""
    sub, iat = claims.get("sub"), claims.get("iat")
    if sub in (None, "") or iat in (None, ""):
        return None
    parts = [str(claims.get("iss", "")), str(sub), str(iat), str(claims.get("nonce", ""))]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def session_problem(value: Any) -> str | None:
    """Why `value` is no shift length (hours, 0 < h <= 720), or None when it is one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"[pneumo_auth] session_hours must be a number of hours, not {value!r}"
    if not 0 < value <= MAX_SESSION_HOURS:
        return f"[pneumo_auth] session_hours must be above 0 and at most {MAX_SESSION_HOURS:g}, not {value!r}"
    return None


def session_hours(settings: Mapping[str, Any] | None) -> float:
    """The shift length from `[pneumo_auth]`; the default when unset.

    Raises:
        ValueError: a value that is no shift length (the launcher refuses to start with it)."""
    value = (settings or {}).get("session_hours", DEFAULT_SESSION_HOURS)
    problem = session_problem(value)
    if problem:
        raise ValueError(problem)
    return float(value)


def _read(path: Path) -> frozenset[str]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return frozenset()
    key = (stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        cached = _CACHE.get(path)
        if cached and cached[0] == key:
            return cached[1]
    ids = set()
    with open(path, encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_SH)
        for line in f:
            try:
                ids.add(str(json.loads(line)["login"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line: the other lines still count
    revoked = frozenset(ids)
    with _LOCK:
        _CACHE[path] = (key, revoked)
    return revoked


def is_revoked(login: str, path: Path | None = None) -> bool:
    """True when `login` was logged out (on any server process sharing this folder)."""
    return login in _read(path or revocation_path())


def revoke(login: str, issued_at: float, path: Path | None = None, now: float | None = None) -> None:
    """Records that `login` ended. Entries older than the cookie's own lifetime are dropped
    on the way (Streamlit refuses such a cookie anyway), so the file stays small."""
    path = path or revocation_path()
    now = time.time() if now is None else now
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        kept = []
        for line in f:
            try:
                entry = json.loads(line)
                if float(entry["until"]) > now:
                    kept.append(json.dumps({"login": str(entry["login"]), "until": float(entry["until"])}))
            except (ValueError, KeyError, TypeError):
                continue
        kept.append(json.dumps({"login": login, "until": float(issued_at) + COOKIE_LIFETIME_S}))
        f.seek(0)
        f.truncate()
        f.write("\n".join(kept) + "\n")
        f.flush()
        os.fsync(f.fileno())


def refusal(claims: Mapping[str, Any], hours: float, now: float | None = None, path: Path | None = None) -> str | None:
    """Why this signed-in identity must not be let in ("revoked", "expired", "no_login_id"), or None."""
    login = login_id(claims)
    if login is None:
        return "no_login_id"
    if is_revoked(login, path):
        return "revoked"
    try:
        issued = float(claims["iat"])
    except (TypeError, ValueError):
        return "no_login_id"
    now = time.time() if now is None else now
    if now - issued > hours * 3600:
        return "expired"
    return None
