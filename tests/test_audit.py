"""The audit trail: records chain, identifiers only, and any edit, insertion or deletion inside
the file is found by `verify` and by `python -m pneumo_core audit --verify`."""
import json
import threading

import pytest

from pneumo_core.audit import AuditError, AuditLog
from pneumo_core.cli import main


@pytest.fixture
def trail(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("a@example.org", "login", role="reader")
    log.append("a@example.org", "score", sha256="ab" * 32, model="efficientnet_lite0")
    log.append("b@example.org", "report_stored", study_uid="1.2.3", report_uid="2.25.7", outcome="stored")
    return log


def _lines(log):
    return log.path.read_text().splitlines()


def test_records_chain_each_to_the_previous_hash(trail):
    records = list(trail.records())
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in zip(records, records[1:]))
    assert trail.verify()[0] == []


@pytest.mark.parametrize("tamper", ["edit", "delete", "insert", "reorder"])
def test_verify_finds_a_tampered_line(trail, tamper):
    lines = _lines(trail)
    if tamper == "edit":
        lines[1] = lines[1].replace("efficientnet_lite0", "paper_cnn")
    elif tamper == "delete":
        del lines[1]
    elif tamper == "insert":
        lines.insert(1, lines[0])
    else:
        lines[0], lines[1] = lines[1], lines[0]
    trail.path.write_text("\n".join(lines) + "\n")
    problems, _, _ = trail.verify()
    assert problems, f"{tamper} went unnoticed"


def test_a_recomputed_hash_after_an_edit_still_breaks_the_chain(trail):
    lines = _lines(trail)
    r = json.loads(lines[0])
    r["user"] = "someone-else@example.org"
    from pneumo_core.audit.trail import _digest
    r["hash"] = _digest(r)
    lines[0] = json.dumps(r)
    trail.path.write_text("\n".join(lines) + "\n")
    assert any("chain broken" in p.reason for p in trail.verify()[0])


@pytest.mark.parametrize("ids", [{"file_name": "SMITH_JOHN.dcm"}, {"accession": "A1\nforged line"},
                                 {"study_uid": "1." * 100}, {"sha256": None}])
def test_names_and_multiline_text_never_reach_the_trail(tmp_path, ids):
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuditError):
        log.append("a@example.org", "score", **ids)
    assert not log.path.exists() or log.path.read_text() == ""


def test_unknown_action_is_refused(tmp_path):
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "a.jsonl").append("a@example.org", "delete_everything")


def test_concurrent_appends_keep_one_chain(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    threads = [threading.Thread(target=lambda: [log.append("u", "score", count=i) for i in range(25)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    problems, _, n = log.verify()
    assert problems == [] and n == 100


def test_cli_verify_exits_non_zero_with_one_line_per_problem(trail, capsys):
    assert main(["audit", "--verify", "--log", str(trail.path)]) == 0
    lines = _lines(trail)
    trail.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert main(["audit", "--verify", "--log", str(trail.path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(str(trail.path) in line for line in err)


def test_cli_prints_one_line_per_record_from_the_environment_path(trail, capsys, monkeypatch):
    monkeypatch.setenv("PNEUMO_AUDIT_LOG", str(trail.path))
    assert main(["audit"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3 and "report_stored" in out[2] and "study_uid=1.2.3" in out[2]
