"""Tests for pneumo_core.app.access.sessions: the per-login id, the revocation list and the shift.

The door's use of them (AppTest) is in test_login.py; the replayed cookie in Chromium in
tests/test_browser_login.py."""
from __future__ import annotations

import json
import math
import threading

import pytest

from pneumo_core.app.access import sessions

NOW = 1_800_000_000.0


def _claims(**extra) -> dict:
    return {"iss": "https://idp.example", "sub": "u1", "iat": int(NOW - 60), "nonce": "abc", **extra}


def test_two_logins_of_one_user_get_different_ids_so_a_logout_ends_only_its_own():
    first, second = sessions.login_id(_claims()), sessions.login_id(_claims(iat=int(NOW - 30), nonce="def"))
    assert first and second and first != second
    assert sessions.login_id(_claims(nonce="xyz")) != first  # same second, another login


@pytest.mark.parametrize("missing", ["sub", "iat"])
def test_an_identity_without_subject_or_issue_time_has_no_login_id_and_is_refused(missing, tmp_path):
    claims = _claims()
    del claims[missing]
    assert sessions.login_id(claims) is None
    assert sessions.refusal(claims, 12, now=NOW, path=tmp_path / "r.jsonl") == "no_login_id"


def test_a_revoked_login_is_refused_and_another_login_is_not(tmp_path):
    path = tmp_path / "r.jsonl"
    mine, other = _claims(), _claims(nonce="other")
    assert sessions.refusal(mine, 12, now=NOW, path=path) is None
    sessions.revoke(sessions.login_id(mine), mine["iat"], path=path, now=NOW)
    assert sessions.refusal(mine, 12, now=NOW, path=path) == "revoked"
    assert sessions.refusal(other, 12, now=NOW, path=path) is None


@pytest.mark.parametrize("age_h, hours, refused", [(11.99, 12, False), (12.01, 12, True), (0.5, 0.25, True),
                                                   (20, 24, False)])
def test_a_login_older_than_the_shift_is_refused(age_h, hours, refused, tmp_path):
    claims = _claims(iat=NOW - age_h * 3600)
    assert (sessions.refusal(claims, hours, now=NOW, path=tmp_path / "r.jsonl") == "expired") is refused


def test_revocations_outlive_the_cookie_and_no_longer_so_the_file_stays_small(tmp_path):
    path = tmp_path / "r.jsonl"
    sessions.revoke("old", NOW - sessions.COOKIE_LIFETIME_S + 10, path=path, now=NOW)
    sessions.revoke("recent", NOW - 3600, path=path, now=NOW)
    assert sessions.is_revoked("recent", path) and sessions.is_revoked("old", path)
    sessions.revoke("new", NOW, path=path, now=NOW + 11)  # "old"'s cookie has expired by now
    logins = [json.loads(line)["login"] for line in path.read_text().splitlines()]
    assert logins == ["recent", "new"]


def test_revocations_written_at_once_from_many_threads_are_all_kept(tmp_path):
    path = tmp_path / "r.jsonl"
    threads = [threading.Thread(target=sessions.revoke, args=(f"id{i}", NOW), kwargs={"path": path, "now": NOW})
               for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(sessions.is_revoked(f"id{i}", path) for i in range(20))


def test_a_torn_line_does_not_hide_the_other_revocations(tmp_path):
    path = tmp_path / "r.jsonl"
    sessions.revoke("kept", NOW, path=path, now=NOW)
    with open(path, "a") as f:
        f.write('{"login": "half')
    assert sessions.is_revoked("kept", path)


@pytest.mark.parametrize("value", [0, -1, "12", math.nan, math.inf, True, sessions.MAX_SESSION_HOURS + 1, None])
def test_a_shift_length_that_is_not_a_positive_number_of_hours_is_refused(value):
    assert sessions.session_problem(value)
    with pytest.raises(ValueError, match="session_hours"):
        sessions.session_hours({"session_hours": value})


def test_the_shift_is_12_hours_unless_the_deployer_sets_it():
    assert sessions.session_hours(None) == sessions.session_hours({}) == 12.0
    assert sessions.session_hours({"session_hours": 8}) == 8.0
