"""Tests for pneumo_core.audit.readiness: a trail (or anchor file) that cannot be written is named in one
line before anything is served or scored; one that can is left ready (its folder made), not written to."""
from __future__ import annotations

import pytest

from pneumo_core.audit import AuditLog, FileAnchor
from pneumo_core.audit.readiness import trail_problem


def test_a_writable_trail_in_a_new_folder_is_ready_and_holds_no_record(tmp_path):
    log = AuditLog(tmp_path / "new" / "audit.jsonl", anchor=FileAnchor(tmp_path / "anchor.log"))
    assert trail_problem(log) is None
    assert log.path.read_bytes() == b"" and (tmp_path / "anchor.log").read_bytes() == b""
    log.append("reader", "login")  # the empty file is a trail like any other
    assert log.verify(tmp_path / "anchor.log")[0] == []


@pytest.mark.parametrize("where, why", [
    (lambda d: d / "a-file" / "audit.jsonl", "a file stands where its folder should be"),
    (lambda d: d, "Is a directory"),
    (lambda d: "/dev/full", "it is not a regular file"),  # appends succeed, but no record can be read back to chain
    (lambda d: "/dev/null", "it is not a regular file"),
])
def test_a_trail_that_cannot_be_written_is_named_in_one_line(tmp_path, where, why):
    (tmp_path / "a-file").write_text("")
    path = where(tmp_path)
    problem = trail_problem(AuditLog(path))
    assert problem == f"the audit trail {path} cannot be written ({why}); set PNEUMO_AUDIT_LOG to a writable file"


def test_an_anchor_file_on_a_missing_mount_is_named_and_its_folder_not_made(tmp_path):
    anchor = tmp_path / "mount" / "anchor.log"
    problem = trail_problem(AuditLog(tmp_path / "audit.jsonl", anchor=FileAnchor(anchor)))
    assert problem == (f"the audit anchor {anchor} cannot be written (No such file or directory); "
                       "set PNEUMO_AUDIT_ANCHOR to a writable file")
    assert not anchor.parent.exists()


def test_the_configured_trail_and_an_unusable_anchor_setting_are_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMO_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("PNEUMO_AUDIT_ANCHOR", "syslog://")
    assert trail_problem().startswith("the audit anchor cannot be used (PNEUMO_AUDIT_ANCHOR: no host in 'syslog://')")
    monkeypatch.delenv("PNEUMO_AUDIT_ANCHOR")
    assert trail_problem() is None and (tmp_path / "audit.jsonl").exists()
