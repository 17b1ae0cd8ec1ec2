"""`audit`: print the audit trail, or check that no line of it was edited, inserted or removed,
and, against its anchor, that none was cut off the end and the chain was not rewritten."""
from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register"]


def _anchor_file(given: str | None) -> str | None:
    """`--anchor`, else the configured anchor when it is a file (a syslog anchor must be exported first)."""
    from ..audit import ENV_ANCHOR, FileAnchor, anchor_from
    if given:
        return given
    try:
        configured = anchor_from(os.environ.get(ENV_ANCHOR))
    except ValueError:
        return None
    return str(configured.path) if isinstance(configured, FileAnchor) else None


def _verify(log, anchor: str | None) -> int:
    from ..audit import printable
    problems, head, n = log.verify(anchor=anchor)
    for p in problems:
        where = printable(anchor) if p.line == 0 else f"{printable(log.path)}:{p.line}"
        print(f"{where}: {printable(p.reason)}", file=sys.stderr)
    if problems:
        return 1
    if anchor:
        print(f"{n} record(s), chain intact and matching the anchor {printable(anchor)}; head {head}")
    else:
        hint = ("export its pneumo-audit lines from the system log and pass them with --anchor"
                if os.environ.get("PNEUMO_AUDIT_ANCHOR", "").startswith("syslog") else
                "lines cut from the end, or a chain rewritten with new hashes, are only seen with --anchor or "
                "PNEUMO_AUDIT_ANCHOR")
        print(f"{n} record(s), chain intact; head {head} (not checked against an anchor: {hint})")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from ..audit import AuditLog, default_path, printable

    log = AuditLog(args.log or default_path())
    if args.verify:
        return _verify(log, _anchor_file(args.anchor))
    try:
        for r in log.records():
            ids = " ".join(f"{printable(k)}={printable(v)}" for k, v in r["ids"].items())
            fields = (printable(r[k]) for k in ("time", "user", "action"))
            print(f"{printable(r['seq']):>6} {' '.join(fields)} {ids}".rstrip())
    except (ValueError, KeyError, TypeError, AttributeError):
        print("error: the audit trail has a damaged line; run `audit --verify`", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="print or verify the audit trail (who did what, when)",
                       description="Print the hash-chained audit trail, or --verify it: exit 1 and one line per "
                                   "problem when a record was edited, inserted or removed, or (against the anchor) "
                                   "cut off the end or rewritten with new hashes. Control and format characters "
                                   "are printed as escapes.")
    p.add_argument("--verify", action="store_true", help="check every record's hash and the chain")
    p.add_argument("--log", help="trail file (default: $PNEUMO_AUDIT_LOG, else var/audit.jsonl)")
    p.add_argument("--anchor", help="file of 'seq hash' lines written with the trail, or a syslog export of them "
                                    "(default: $PNEUMO_AUDIT_ANCHOR when it is a file)")
    p.set_defaults(func=_cmd_audit)
