"""`audit`: print the audit trail, or check that no line of it was edited, inserted or removed."""
from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _cmd_audit(args: argparse.Namespace) -> int:
    from ..audit import AuditLog, default_path

    log = AuditLog(args.log or default_path())
    if args.verify:
        problems, head, n = log.verify()
        for p in problems:
            print(f"{log.path}:{p.line}: {p.reason}", file=sys.stderr)
        if problems:
            return 1
        print(f"{n} record(s), chain intact; head {head} (keep it elsewhere: removing lines from the end "
              "is only seen against a head kept outside this file)")
        return 0
    try:
        for r in log.records():
            ids = " ".join(f"{k}={v}" for k, v in r["ids"].items())
            print(f"{r['seq']:>6} {r['time']} {r['user']} {r['action']} {ids}".rstrip())
    except (ValueError, KeyError, TypeError):
        print("error: the audit trail has a damaged line; run `audit --verify`", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="print or verify the audit trail (who did what, when)",
                       description="Print the hash-chained audit trail, or --verify it: exit 1 and one line per "
                                   "problem when a record was edited, inserted or removed.")
    p.add_argument("--verify", action="store_true", help="check every record's hash and the chain")
    p.add_argument("--log", help="trail file (default: $PNEUMO_AUDIT_LOG, else var/audit.jsonl)")
    p.set_defaults(func=_cmd_audit)
