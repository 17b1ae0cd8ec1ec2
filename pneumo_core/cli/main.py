"""`python -m pneumo_core COMMAND`: the parser that gathers every module's commands, each
registering its own, placed by `groups` (reading at the top, then `site` and `dev`)."""
from __future__ import annotations

import argparse
import sys

from ..errors import PneumoError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from . import adapt, audit, build, drift, predict, report, site, verify

    from .groups import register_grouped

    p = argparse.ArgumentParser(prog="python -m pneumo_core", description="Pneumonia detection on chest radiographs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # the order `--help` lists them in; `groups` says which sit under `site` and `dev`
    register_grouped(sub, [m.register for m in (predict, drift, report, verify, audit, site, adapt, build)])
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; keep that contract
        return int(exc.code or 0)
    try:
        return args.func(args)
    except PneumoError as exc:  # every error the product raises on purpose: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
