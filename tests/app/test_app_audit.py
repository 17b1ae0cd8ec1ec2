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
