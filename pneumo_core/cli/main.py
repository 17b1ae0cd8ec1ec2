"""`python -m pneumo_core COMMAND`: the parser that gathers every group of commands, each
registering its own subcommands."""
from __future__ import annotations

import argparse
import sys

from ..errors import PneumoError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from . import adapt, audit, build, drift, predict, report, site, verify

    p = argparse.ArgumentParser(prog="python -m pneumo_core", description="Pneumonia detection on chest radiographs.")
    sub = p.add_subparsers(dest="command", required=True)
    for group in (predict, report, site, adapt, drift, build, verify, audit):  # the order `--help` lists them in
        group.register(sub)
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
