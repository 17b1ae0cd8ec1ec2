"""What the app records in the audit trail, in the user's name and with identifiers only."""
from __future__ import annotations

import hashlib


from pneumo_core.audit import AuditLog
from pneumo_core.app.runtime import paths

from conftest import run_app



def _records(trail, action):
    return [r for r in AuditLog(trail).records() if r["action"] == action]


def test_opening_a_case_is_recorded_once_per_film_and_session_by_its_hash_not_its_name(audit_trail_in_a_temporary_file):
    trail = audit_trail_in_a_temporary_file
    films = sorted(paths.example_files())[:2]
    before = len(_records(trail, "open_case"))
    at = run_app()
    at.file_uploader[0].set_value([(p.name, p.read_bytes(), "image/jpeg") for p in films]).run()
    at.button(key="case_next").click().run()
    at.button(key="case_prev").click().run()  # back to the first: already opened in this session
    assert not at.exception
    opened = _records(trail, "open_case")[before:]
    assert [r["ids"]["sha256"] for r in opened] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in films]
    assert all(r["user"] == "local" for r in opened)  # no login configured: the one person at the desk
    text = trail.read_text()
    assert not any(p.name in text or p.stem in text for p in films)


def test_scoring_an_upload_is_recorded_once_per_film_and_session(audit_trail_in_a_temporary_file):
    trail = audit_trail_in_a_temporary_file
    film = sorted(paths.example_files())[0]
    before = len(_records(trail, "score"))
    at = run_app()
    at.file_uploader[0].set_value([(film.name, film.read_bytes(), "image/jpeg")]).run()
    at.sidebar.slider(key="threshold_slider").set_value(0.6).run()  # a rerun is not a new score
    scored = _records(trail, "score")[before:]
    assert len(scored) == 1 and scored[0]["ids"]["sha256"] == hashlib.sha256(film.read_bytes()).hexdigest()
    assert scored[0]["ids"]["outcome"] == "scored" and film.stem not in trail.read_text()
