"""Tests for pneumo_core.app.access.login: who gets past the entrypoint, and what the trail records.

AppTest's simulated `st.user` and secrets stand in for the login here (fast, no server);
tests/test_browser_login.py runs the real OpenID Connect flow in Chromium."""
from __future__ import annotations

import itertools
import time

import pytest
from streamlit.testing.v1 import AppTest

from pneumo_core.app.access import login, sessions
from pneumo_core.audit import AuditLog

from conftest import APP_ENTRYPOINT, APP_TIMEOUT
from test_identity import AUTH, run_as

_iat = itertools.count(1_800_000_000)  # each test's own login: the gate records one record per login


def _door() -> None:
    import streamlit as st

    from pneumo_core.app.access import login
    if login.admit():
        st.text("inside")
        with st.sidebar:
            login.account()


def _run(user: dict | None, secrets: dict | None = None) -> AppTest:
    return run_as(_door, user, secrets)


def _records(trail, user: str) -> list[dict]:
    return [r for r in AuditLog(trail).records() if r["user"] == user]


def _inside(at: AppTest) -> bool:
    return any(t.value == "inside" for t in at.text)


def test_without_login_configured_everyone_is_inside_and_no_login_is_recorded(audit_trail_in_a_temporary_file):
    before = len(_records(audit_trail_in_a_temporary_file, "local"))
    at = _run(None)
    assert _inside(at) and not [b for b in at.button if b.label == "Log out"]
    assert len(_records(audit_trail_in_a_temporary_file, "local")) == before


def test_an_anonymous_visitor_gets_only_the_login_button():
    at = _run({"is_logged_in": False}, {"auth": AUTH})
    assert not _inside(at)
    assert [b.label for b in at.button] == ["Log in"]


def test_a_reader_is_inside_with_a_log_out_button_and_the_login_is_recorded_once_per_login(
        audit_trail_in_a_temporary_file):
    user = {"is_logged_in": True, "email": "reader@example.org", "sub": "r1", "roles": ["reader"], "iat": next(_iat)}
    at = _run(user, {"auth": AUTH})
    assert _inside(at) and [b.label for b in at.sidebar.button] == ["Log out"]
    assert any("reader@example.org (reader)" in t.value for t in at.sidebar.text)
    at.run()  # a rerun of the same session
    _run(user, {"auth": AUTH})  # a reload: a new session with the same ID token
    logins = [r for r in _records(audit_trail_in_a_temporary_file, "reader@example.org") if r["action"] == "login"]
    assert [r["ids"] for r in logins] == [{"role": "reader"}]
    _run(dict(user, iat=next(_iat)), {"auth": AUTH})  # logged in again: a new ID token
    assert sum(r["action"] == "login" for r in _records(audit_trail_in_a_temporary_file, "reader@example.org")) == 2


def test_an_account_without_a_role_sees_no_access_and_the_refusal_is_recorded(audit_trail_in_a_temporary_file):
    user = {"is_logged_in": True, "email": "nobody@example.org", "sub": "n1", "roles": ["admin"], "iat": next(_iat)}
    at = _run(user, {"auth": AUTH})
    assert not _inside(at)
    assert "no role" in at.error[0].value and [b.label for b in at.button] == ["Log out"]
    (record,) = _records(audit_trail_in_a_temporary_file, "nobody@example.org")
    assert record["action"] == "access_denied" and record["ids"] == {"page": "app"}


# Sessions that end (issue #27, item 4): the door refuses a login that was logged out or outlived its shift.

def _user(email: str, age_s: float = 60.0, **claims) -> dict:
    """A signed-in identity whose ID token was issued `age_s` seconds ago (a fresh nonce: its own login)."""
    return {"is_logged_in": True, "email": email, "sub": email, "roles": ["reporter"],
            "iat": int(time.time() - age_s), "nonce": f"n{next(_iat)}", **claims}


def _ended(trail, email: str) -> list[dict]:
    return [r["ids"] for r in _records(trail, email) if r["action"] == "access_denied"]


def test_logging_out_revokes_the_login_so_its_cookie_no_longer_opens_the_app(audit_trail_in_a_temporary_file):
    user = _user("leaver@example.org")
    at = _run(user, {"auth": AUTH})
    assert _inside(at)
    at.sidebar.button[0].click().run()
    assert sessions.is_revoked(sessions.login_id(user))
    replay = _run(user, {"auth": AUTH})  # a new session with the same identity cookie
    assert not _inside(replay) and [b.label for b in replay.button] == ["Log in"]
    assert _ended(audit_trail_in_a_temporary_file, "leaver@example.org") == [{"page": "session_revoked"}]


def test_a_new_login_after_a_logout_is_let_in_with_the_roles_of_its_own_token():
    user = _user("back@example.org")
    at = _run(user, {"auth": AUTH})
    at.sidebar.button[0].click().run()
    again = _run(_user("back@example.org", roles=["reader"]), {"auth": AUTH})  # new token: new nonce and iat
    assert _inside(again) and any("back@example.org (reader)" in t.value for t in again.sidebar.text)


def test_a_login_older_than_the_default_shift_of_12_hours_is_refused(audit_trail_in_a_temporary_file):
    assert _inside(_run(_user("early@example.org", age_s=11.9 * 3600), {"auth": AUTH}))
    at = _run(_user("late@example.org", age_s=12.1 * 3600), {"auth": AUTH})
    assert not _inside(at) and [b.label for b in at.button] == ["Log in"]
    assert _ended(audit_trail_in_a_temporary_file, "late@example.org") == [{"page": "session_expired"}]


def test_the_shift_length_is_read_from_the_deployers_settings():
    user = _user("shift@example.org", age_s=2 * 3600)
    assert _inside(_run(user, {"auth": AUTH}))
    assert not _inside(_run(user, {"auth": AUTH, "pneumo_auth": {"session_hours": 1}}))
    assert _inside(_run(_user("night@example.org", age_s=13 * 3600), {"auth": AUTH, "pneumo_auth": {"session_hours": 14}}))


def test_an_identity_without_an_issue_time_is_refused_because_its_age_is_unknown():
    user = _user("timeless@example.org")
    del user["iat"]
    assert not _inside(_run(user, {"auth": AUTH}))


# An unwritable trail (issue #27): no page may show what it cannot record, so the door admits nobody.

@pytest.fixture
def unwritable_trail(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PNEUMO_AUDIT_LOG", str(blocker / "audit.jsonl"))  # a file where its folder should be
    return blocker / "audit.jsonl"


@pytest.mark.parametrize("who, user, secrets", [
    ("the person at the desk, without login", None, None),
    ("an anonymous visitor", {"is_logged_in": False}, {"auth": AUTH}),
    ("a signed-in reporter", _user("late-trail@example.org"), {"auth": AUTH}),
])
def test_with_an_unwritable_trail_every_visitor_gets_one_line_and_nothing_else(unwritable_trail, who, user, secrets):
    at = _run(user, secrets)
    assert [e.value for e in at.error] == [login.UNRECORDED], who
    assert not _inside(at) and not at.button and not at.text and not at.markdown and not at.sidebar.children
    assert str(unwritable_trail) not in login.UNRECORDED  # the path is the server's business, not a visitor's


def test_the_app_started_with_streamlit_run_shows_only_that_line_with_an_unwritable_trail(unwritable_trail):
    at = AppTest.from_file(APP_ENTRYPOINT, default_timeout=APP_TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == [login.UNRECORDED]  # before: a generic error, and the app still ran
    assert not at.button and not at.title and not at.sidebar.children
