"""An append-only JSON Lines file in which each record carries the sha256 of the one before.

JSON Lines rather than SQLite: a line is written with one `write` on a file opened for
appending, under an exclusive `flock`, so the app's threads, the CLI and a second server
process can all record at once without a database server or a schema migration; the file
reads with `less`, `grep` and `jq` during an incident, and copies to write-once storage
with `cp`. A hash chain (each record's `prev` is the previous record's `hash`) makes an
edited, inserted or deleted line visible to `verify`; lines cut off the end, or a file rewritten
with recomputed hashes, are seen only against a copy of the hashes kept elsewhere: the anchor
(`anchor.py`, `PNEUMO_AUDIT_ANCHOR`), written with each record.

Identifiers only, never names: `ids` keys come from `ID_KEYS` and values are short scalars with no
control or format character (`text.py`), so a file name or a DICOM patient attribute cannot reach the
trail by accident, nor a terminal escape. The account name, which the identity provider chooses, is
kept with such characters escaped.
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
from ..io.home import state_dir
from .anchor import Anchor, configured_anchor, read_anchor
from .text import escape, is_unsafe

__all__ = ["ACTIONS", "ID_KEYS", "AuditError", "AuditLog", "Problem", "cli_user", "default_log", "default_path"]

ACTIONS = frozenset({"login", "score", "open_case", "pacs_search", "report_stored", "profile_made", "access_denied"})
ID_KEYS = frozenset({"study_uid", "series_uid", "instance_uid", "report_uid", "sha256", "accession", "model",
                     "site_sha256", "server", "count", "outcome", "role", "page"})
MAX_VALUE_CHARS = 128
GENESIS = "0" * 64
ENV_PATH = "PNEUMO_AUDIT_LOG"


class AuditError(PneumoError, ValueError):
    """A record that would break the trail's rules (unknown action or key, a value that could carry text)."""


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line number in the file
    reason: str


def default_path() -> Path:
    """`PNEUMO_AUDIT_LOG` if set, else `audit.jsonl` in the product's state folder (`io.home.state_dir`:
    `var/` in a chosen home or a checkout, never inside site-packages)."""
    return Path(os.environ.get(ENV_PATH) or state_dir() / "audit.jsonl")


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
        if isinstance(value, str) and (len(value) > MAX_VALUE_CHARS or is_unsafe(value)):
            raise AuditError(f"audit value for {key} is too long or holds a control or format character")
    return dict(sorted(ids.items()))


class AuditLog:
    """One trail file, and optionally its anchor. `append` is safe across threads and processes;
    `verify` re-walks the chain, and compares it with an anchor file when given one."""

    _lock = threading.Lock()  # flock is per open file description; threads of one process also serialise here

    def __init__(self, path: Path | str, anchor: Anchor | None = None) -> None:
        self.path = Path(path)
        self.anchor = anchor

    def append(self, user: str, action: str, **ids: str | int | float | bool) -> dict:
        """Writes one record (then its hash to the anchor) and returns it; refuses unknown actions and keys,
        and an anchor that cannot be written (`AuditError`, after the record is in the trail)."""
        if action not in ACTIONS:
            raise AuditError(f"unknown audit action: {action}")
        if not isinstance(user, str) or not user or len(user) > MAX_VALUE_CHARS:
            raise AuditError("audit user must be a name of 1 to 128 characters")
        user = escape(user)
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
                if self.anchor is not None:  # under the lock, so the anchor's order is the trail's
                    try:
                        self.anchor.write(record["seq"], record["hash"])
                    except OSError as exc:
                        raise AuditError(f"the audit anchor {self.anchor!r} could not be written ({exc.strerror or exc}); "
                                         f"record {record['seq']} is in the trail but not anchored") from None
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

    def verify(self, anchor: Path | str | None = None) -> tuple[list[Problem], str, int]:
        """(problems, head hash, records read): every line parses, hashes to itself, chains to the one before and
        holds no raw control or format character; with `anchor` (a file of `seq hash` lines), every anchored hash
        matches its record and the trail ends where the anchor does. Line 0 stands for the anchor itself."""
        if not self.path.exists():
            problems = [] if anchor is None else self._against_anchor(anchor, {}, 0, 0)
            return problems, GENESIS, 0
        with open(self.path, encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_SH)  # a writer holds LOCK_EX over trail and anchor: read both in one state
            try:
                problems, prev, n, hashes = self._walk(f)
                if anchor is not None:
                    problems += self._against_anchor(anchor, hashes, n, max(hashes, default=0))
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return problems, prev, n

    @staticmethod
    def _walk(f) -> tuple[list[Problem], str, int, dict[int, tuple[int, str]]]:
        problems: list[Problem] = []
        hashes: dict[int, tuple[int, str]] = {}  # seq -> (line, stated hash)
        prev, seq, n = GENESIS, 0, 0
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
            if _holds_unsafe(record):
                problems.append(Problem(n, "holds a raw control or format character (this program escapes or "
                                           "refuses them): the record was not written by it"))
            prev = stated
            seq = record["seq"] if isinstance(record.get("seq"), int) else seq + 1
            hashes.setdefault(seq, (n, str(stated)))
        return problems, prev, n, hashes

    @staticmethod
    def _against_anchor(anchor: Path | str, hashes: dict[int, tuple[int, str]], lines: int, last: int) -> list[Problem]:
        """The trail's records against the anchor's `seq hash` lines: a rewritten record, a cut tail, an unanchored one."""
        anchored: dict[int, str] = {}
        problems: list[Problem] = []
        try:
            entries = list(read_anchor(anchor))
        except OSError as exc:
            return [Problem(0, f"cannot read the anchor {anchor}: {exc.strerror or exc}")]
        for _, seq, digest in entries:
            if anchored.setdefault(seq, digest) != digest:
                problems.append(Problem(0, f"the anchor holds two hashes for record {seq} (a second trail, or a reset)"))
        differ = [seq for seq in sorted(anchored) if seq in hashes and hashes[seq][1] != anchored[seq]]
        if differ:
            problems.append(Problem(hashes[differ[0]][0], f"rewritten: record {differ[0]} and {len(differ) - 1} anchored "
                                                         "record(s) after it differ from the hashes anchored when "
                                                         "they were written"))
        top = max(anchored, default=0)
        if top > last:
            problems.append(Problem(lines + 1, f"cut: the trail ends at record {last} but the anchor holds records up "
                                               f"to {top}"))
        elif last > top:
            problems.append(Problem(hashes[top + 1][0] if top + 1 in hashes else lines,
                                    f"not anchored: records {top + 1} to {last} are not in the anchor (appended "
                                    "without it, or the anchor could not be written)"))
        return problems


def _holds_unsafe(value: object) -> bool:
    if isinstance(value, str):
        return is_unsafe(value)
    if isinstance(value, dict):
        return any(_holds_unsafe(k) or _holds_unsafe(v) for k, v in value.items())
    return False


def cli_user() -> str:
    """Who runs a command: "cli:" and the operating-system account (the command line has no login of its own)."""
    import getpass
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        name = f"uid{os.getuid()}"
    return f"cli:{name}"[:MAX_VALUE_CHARS]


def default_log() -> AuditLog:
    """The installation's trail and its anchor (`PNEUMO_AUDIT_LOG`, `PNEUMO_AUDIT_ANCHOR`, read on each call,
    so tests and deployers can point them elsewhere)."""
    try:
        anchor = configured_anchor()
    except ValueError as exc:
        raise AuditError(str(exc)) from None
    return AuditLog(default_path(), anchor=anchor)
