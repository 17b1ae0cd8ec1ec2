"""The audit trail's attacks (issue #27 item 6), each run against a fresh trail with a file
anchor: hostile account names, a control character in an identifier, a cut tail, a chain
rewritten with recomputed hashes; and what a record costs. Prints a table and writes
benchmarks/results/audit_attacks.json (docs/security.md quotes it).

    python benchmarks/audit_attacks.py
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pneumo_core.audit import AuditLog  # noqa: E402
from pneumo_core.audit.anchor import FileAnchor  # noqa: E402
from pneumo_core.audit.text import UNSAFE_CATEGORIES  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "audit_attacks.json"
NAMES = ["mallory\x1b[2A\x1b[2K", "m\u202egro.elpmaxe", "m\u2028forged"]


def _raw_unsafe(text: str) -> int:
    import unicodedata
    return sum(unicodedata.category(c) in UNSAFE_CATEGORIES for line in text.splitlines() for c in line)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pneumo_core", *args], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=120)


def _trail(d: Path, n: int) -> tuple[AuditLog, Path, Path]:
    path, anchor = d / "audit.jsonl", d / "anchor.log"
    log = AuditLog(path, anchor=FileAnchor(anchor))
    for i in range(n):
        log.append("reader", "score", sha256=hashlib.sha256(str(i).encode()).hexdigest())
    return log, path, anchor


def _verify(path: Path, anchor: Path) -> dict:
    r = _cli("audit", "--verify", "--anchor", str(anchor), env={"PNEUMO_AUDIT_LOG": str(path), "PATH": "/usr/bin:/bin"})
    lines = (r.stdout + r.stderr).strip().splitlines()[:2]
    return {"exit": r.returncode, "says": [line.replace(str(path), path.name) for line in lines]}


def main() -> None:
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        log, path, anchor = _trail(d, 0)
        for name in NAMES:
            log.append(name, "login")
        printed = _cli("audit", env={"PNEUMO_AUDIT_LOG": str(path), "PATH": "/usr/bin:/bin"}).stdout
        rows["hostile account names"] = {"names": [repr(n) for n in NAMES], "records": len(path.read_text().splitlines()),
                                         "raw_unsafe_in_file": _raw_unsafe(path.read_text()),
                                         "raw_unsafe_printed": _raw_unsafe(printed)}
        try:
            log.append("reader", "score", accession="A1\u202e")
            refused = False
        except ValueError:
            refused = True
        rows["format character in an identifier"] = {"refused": refused}

        d2 = d / "cut"
        d2.mkdir()
        _, path, anchor = _trail(d2, 6)
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[:4]))
        rows["trail cut from 6 to 4 records"] = _verify(path, anchor)

        d3 = d / "rewritten"
        d3.mkdir()
        _, path, anchor = _trail(d3, 6)
        records = [json.loads(x) for x in path.read_text().splitlines()]
        records[1]["ids"]["sha256"] = "0" * 64
        fake = AuditLog(d3 / "fake.jsonl")  # the same writer, recomputing every hash after the edit
        for r in records:
            fake.append(r["user"], r["action"], **r["ids"])
        (d3 / "fake.jsonl").replace(path)
        rows["record 2 edited, every hash recomputed"] = _verify(path, anchor)

        d4 = d / "cost"
        d4.mkdir()
        log, path, anchor = _trail(d4, 0)
        t0 = time.perf_counter()
        for i in range(200):
            log.append("reader", "score", sha256=hashlib.sha256(str(i).encode()).hexdigest())
        rows["cost"] = {"ms_per_record_with_file_anchor": round((time.perf_counter() - t0) / 200 * 1000, 2)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=1) + "\n")
    for k, v in rows.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
