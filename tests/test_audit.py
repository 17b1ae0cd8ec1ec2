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


# --- hostile account names: nothing raw reaches the file's values or a terminal (issue 27, item 6) ---

HOSTILE_NAMES = {
    "ansi_erases_two_lines": "mallory@example.org\x1b[2A\x1b[2K\r",
    "bidi_override": "mallory\u202egro.elpmaxe@b",
    "line_separator": "mallory\u2028    42 2026-01-01T00:00:00 b@example.org login",
    "zero_width": "a\u200b@example.org",
    "next_line_c1": "mallory\x85forged",
    "lone_surrogate": "mallory\ud800",
}


def _raw_unsafe(text: str) -> list[str]:
    import unicodedata
    return [c for c in text if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs"} and c != "\n"]


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_a_control_or_format_character_in_an_account_name_is_escaped_not_written_and_the_record_kept(tmp_path, name):
    log = AuditLog(tmp_path / "audit.jsonl")
    record = log.append(name, "login", role="reader")
    stored = [r["user"] for r in log.records()]
    assert stored == [record["user"]] and _raw_unsafe(stored[0]) == []
    assert log.verify()[0] == []


def test_escaping_keeps_two_different_names_apart(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("a\x1b", "login")
    log.append("a\\x1b", "login")  # a user whose name is the text of the first one's escape
    first, second = (r["user"] for r in log.records())
    assert first == "a\\x1b" and second == "a\\\\x1b"


@pytest.mark.parametrize("value", ["A1\u202e", "A1\x1b[2K", "1.2.3\u2028", "A\u200d1"])
def test_an_identifier_holding_a_control_or_format_character_is_refused(tmp_path, value):
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuditError, match="control or format"):
        log.append("a@example.org", "pacs_search", accession=value)
    assert not log.path.exists() or log.path.read_text() == ""


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_audit_never_prints_a_control_or_format_character_even_from_a_hand_made_line(tmp_path, capsys, name):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("a@example.org", "login")
    log.append(name, "login")  # escaped by the writer
    forged = {"seq": 3, "time": "t\x1b[1A", "user": name, "action": "login\u202e", "ids": {"role\u2029": name}}
    with open(log.path, "a", encoding="utf-8") as f:  # an old or hand-made line, never escaped
        f.write(json.dumps(forged) + "\n")
    assert main(["audit", "--log", str(log.path)]) == 0
    out = capsys.readouterr().out
    assert _raw_unsafe(out) == [] and len(out.splitlines()) == 3


def test_verify_flags_a_line_holding_a_raw_control_character_which_the_writer_never_writes(tmp_path):
    from pneumo_core.audit.trail import _digest
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("a@example.org", "login")
    forged = {"seq": 2, "time": "t", "user": "b\x1b[2A", "action": "login", "ids": {}, "prev": log.verify()[1]}
    forged["hash"] = _digest(forged)
    with open(log.path, "a", encoding="utf-8") as f:
        f.write(json.dumps(forged) + "\n")
    assert [p.line for p in log.verify()[0]] == [2]


# --- the anchor: the head kept outside the file as it is written ---

def _anchored(tmp_path, n: int = 5):
    from pneumo_core.audit import FileAnchor
    anchor = tmp_path / "anchor" / "audit.anchor"
    anchor.parent.mkdir()
    log = AuditLog(tmp_path / "audit.jsonl", anchor=FileAnchor(anchor))
    for i in range(n):
        log.append(f"u{i}@example.org", "score", count=i)
    return log, anchor


def _rechain(lines: list[str]) -> list[str]:
    """What someone with write access to the trail does to hide an edit: recompute every prev and hash."""
    from pneumo_core.audit.trail import GENESIS, _digest
    out, prev = [], GENESIS
    for line in lines:
        r = json.loads(line)
        r["prev"] = prev
        r["hash"] = prev = _digest(r)
        out.append(json.dumps(r, sort_keys=True, separators=(",", ":")))
    return out


def test_each_record_is_anchored_as_it_is_written(tmp_path):
    log, anchor = _anchored(tmp_path)
    assert anchor.read_text().splitlines() == [f"{r['seq']} {r['hash']}" for r in log.records()]
    assert log.verify(anchor=anchor)[0] == []


def test_a_cut_tail_passes_the_chain_but_not_the_anchor(tmp_path, capsys):
    log, anchor = _anchored(tmp_path)
    log.path.write_text("\n".join(_lines(log)[:3]) + "\n")
    assert log.verify()[0] == []  # the chain alone cannot see it
    problems = log.verify(anchor=anchor)[0]
    assert [p.reason.split(":")[0] for p in problems] == ["cut"] and "ends at record 3" in problems[0].reason
    assert main(["audit", "--verify", "--log", str(log.path), "--anchor", str(anchor)]) == 1
    assert "cut" in capsys.readouterr().err


@pytest.mark.parametrize("cut_too", [False, True])
def test_a_chain_rewritten_with_recomputed_hashes_is_found_against_the_anchor(tmp_path, cut_too):
    log, anchor = _anchored(tmp_path)
    lines = _lines(log)
    lines[1] = lines[1].replace("u1@example.org", "someone-else@example.org")
    log.path.write_text("\n".join(_rechain(lines[:3] if cut_too else lines)) + "\n")
    assert log.verify()[0] == []
    problems = log.verify(anchor=anchor)[0]
    assert problems and problems[0].line == 2 and problems[0].reason.startswith("rewritten: record 2")


def test_records_appended_without_the_anchor_are_reported(tmp_path):
    log, anchor = _anchored(tmp_path, n=2)
    AuditLog(log.path).append("forger@example.org", "score", count=9)  # valid chain, no anchor
    problems = log.verify(anchor=anchor)[0]
    assert [p.line for p in problems] == [3] and problems[0].reason.startswith("not anchored: records 3 to 3")


def test_the_configured_anchor_is_written_and_used_by_verify(tmp_path, monkeypatch, capsys):
    from pneumo_core.audit import default_log
    monkeypatch.setenv("PNEUMO_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("PNEUMO_AUDIT_ANCHOR", str(tmp_path / "audit.anchor"))
    for i in range(3):
        default_log().append("a@example.org", "score", count=i)
    assert main(["audit", "--verify"]) == 0 and "matching the anchor" in capsys.readouterr().out
    log = default_log()
    log.path.write_text("\n".join(_lines(log)[:2]) + "\n")
    assert main(["audit", "--verify"]) == 1


def test_an_unwritable_anchor_fails_the_append_after_the_record_is_in_the_trail(tmp_path):
    from pneumo_core.audit import FileAnchor
    log = AuditLog(tmp_path / "audit.jsonl", anchor=FileAnchor(tmp_path / "not-mounted" / "audit.anchor"))
    with pytest.raises(AuditError, match="anchor"):
        log.append("a@example.org", "login")
    assert len(_lines(log)) == 1
    assert [p.reason.split(" /")[0] for p in log.verify(anchor=log.anchor.path)[0]] == ["cannot read the anchor"]


def test_a_syslog_anchor_sends_each_hash_and_an_export_of_it_verifies(tmp_path):
    import socket
    from pneumo_core.audit import anchor_from
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        log = AuditLog(tmp_path / "audit.jsonl", anchor=anchor_from(f"syslog://127.0.0.1:{server.getsockname()[1]}"))
        records = [log.append("a@example.org", "score", count=i) for i in range(3)]
        received = [server.recv(4096).decode() for _ in records]
    assert all(msg.endswith(f"pneumo-audit: {r['seq']} {r['hash']}") for msg, r in zip(received, records))
    export = tmp_path / "syslog.txt"  # as rsyslog writes them: date, host, tag, message; other programs between
    export.write_text("".join(f"Dec  7 13:00:0{i} pacs-host {m.split('>', 1)[1]}\nDec  7 13:00:0{i} pacs-host cron: 9 "
                              f"{'f' * 64}\n" for i, m in enumerate(received)))
    assert log.verify(anchor=export)[0] == []
    log.path.write_text("\n".join(_lines(log)[:2]) + "\n")
    assert "cut" in log.verify(anchor=export)[0][0].reason


@pytest.mark.parametrize("spec", ["syslog+tcp://127.0.0.1:{port}", "{missing_socket}"])
def test_a_syslog_anchor_that_cannot_be_reached_fails_the_append_instead_of_anchoring_nothing(tmp_path, spec):
    import socket
    from pneumo_core.audit import SyslogAnchor, anchor_from
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    anchor = (SyslogAnchor(str(tmp_path / "no-dev-log")) if spec == "{missing_socket}"
              else anchor_from(spec.format(port=port)))
    with pytest.raises(AuditError, match="could not be written"):
        AuditLog(tmp_path / "audit.jsonl", anchor=anchor).append("a@example.org", "login")
