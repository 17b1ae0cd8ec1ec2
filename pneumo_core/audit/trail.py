"""An append-only JSON Lines file in which each record carries the sha256 of the one before.

JSON Lines rather than SQLite: a line is written with one `write` on a file opened for
appending, under an exclusive `flock`, so the app's threads, the CLI and a second server
process can all record at once without a database server or a schema migration; the file
reads with `less`, `grep` and `jq` during an incident, and copies to write-once storage
with `cp`. A hash chain (each record's `prev` is the previous record's `hash`) makes an
edited, inserted or deleted line visible to `verify`; cutting lines off the end is not, so
`verify` prints the head hash for the deployer to keep elsewhere (a ticket, a log server).

Identifiers only, never names: `ids` keys come from `ID_KEYS` and values are short, single
line scalars, so a file name or a DICOM patient attribute cannot reach the trail by accident.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import PneumoError

__all__ = ["ACTIONS", "ID_KEYS", "AuditError", "AuditLog", "Problem", "cli_user", "default_log", "default_path"]

ACTIONS = frozenset({"login", "score", "open_case", "pacs_search", "report_stored", "profile_made", "access_denied"})
ID_KEYS = frozenset({"study_uid", "series_uid", "instance_uid", "report_uid", "sha256", "accession", "model",
                     "site_sha256", "server", "count", "outcome", "role", "page"})
MAX_VALUE_CHARS = 128
GENESIS = "0" * 64
ENV_PATH = "PNEUMO_AUDIT_LOG"
_REPO_DIR = Path(__file__).resolve().parents[2]


class AuditError(PneumoError, ValueError):
    """A record that would break the trail's rules (unknown action or key, a value that could carry text)."""


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line number in the file
    reason: str


def default_path() -> Path:
    """`PNEUMO_AUDIT_LOG` if set, else `var/audit.jsonl` in the installation (git-ignored)."""
    return Path(os.environ.get(ENV_PATH) or _REPO_DIR / "var" / "audit.jsonl")


def _digest(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_ids(ids: dict) -> dict:
    unknown = sorted(set(ids) - ID_KEYS)
    if unknown:
        raise AuditError(f"not an audit identifier: {', '.join(unknown)}")
    for key, value in ids.items():
        if not isinstance(value, (str, int, float, bool)) or value is None:
            raise AuditError(f"audit value for {key} must be a string or a number")
        if isinstance(value, str) and (len(value) > MAX_VALUE_CHARS or any(c in value for c in "\r\n\t\x00")):
            raise AuditError(f"audit value for {key} is too long or spans lines")
    return dict(sorted(ids.items()))


class AuditLog:
    """One trail file. `append` is safe across threads and processes; `verify` re-walks the chain."""

    _lock = threading.Lock()  # flock is per open file description; threads of one process also serialise here

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, user: str, action: str, **ids: str | int | float | bool) -> dict:
        """Writes one record and returns it; refuses unknown actions and keys (`AuditError`)."""
        if action not in ACTIONS:
            raise AuditError(f"unknown audit action: {action}")
        if not user or len(user) > MAX_VALUE_CHARS or any(c in user for c in "\r\n\t\x00"):
            raise AuditError("audit user must be a short single-line name")
        ids = _check_ids(ids)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                prev, seq = self._head(f)
                record = {"seq": seq + 1, "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                          "user": user, "action": action, "ids": ids, "prev": prev}
                record["hash"] = _digest(record)
                f.write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return record

    @staticmethod
    def _head(f) -> tuple[str, int]:
        """The last record's hash and sequence number (the genesis hash and 0 for an empty trail)."""
        f.seek(0, os.SEEK_END)
        end = f.tell()
        if end == 0:
            return GENESIS, 0
        back = min(end, 64 * 1024)  # a record is a few hundred bytes
        f.seek(end - back)
        lines = f.read().splitlines()
        try:
            last = json.loads(lines[-1])
            return str(last["hash"]), int(last["seq"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise AuditError("the audit trail's last line is damaged; run `audit --verify`") from None

    def records(self) -> Iterator[dict]:
        """Every record in order (nothing when the trail does not exist yet)."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)

    def verify(self) -> tuple[list[Problem], str, int]:
        """(problems, head hash, records read): every line parses, hashes to itself and chains to the one before."""
        problems: list[Problem] = []
        prev, seq, n = GENESIS, 0, 0
        if not self.path.exists():
            return problems, prev, 0
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                try:
                    record = json.loads(line)
                    stated = record["hash"]
                except (ValueError, KeyError, TypeError):
                    problems.append(Problem(n, "not a record"))
                    continue
                if _digest(record) != stated:
                    problems.append(Problem(n, "edited: the record does not match its own hash"))
                if record.get("prev") != prev:
                    problems.append(Problem(n, "chain broken: a record before this one was removed, inserted or edited"))
                if record.get("seq") != seq + 1:
                    problems.append(Problem(n, f"sequence jumps from {seq} to {record.get('seq')}"))
                prev = stated
                seq = record["seq"] if isinstance(record.get("seq"), int) else seq + 1
        return problems, prev, n


def cli_user() -> str:
    """Who runs a command: "cli:" and the operating-system account (the command line has no login of its own)."""
    import getpass
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        name = f"uid{os.getuid()}"
    return f"cli:{name}"[:MAX_VALUE_CHARS]


def default_log() -> AuditLog:
    """The installation's trail (path read on each call, so tests and deployers can point it elsewhere)."""
    return AuditLog(default_path())
