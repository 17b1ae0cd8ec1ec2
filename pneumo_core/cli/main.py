"""`pneumo COMMAND` (also `python -m pneumo_core COMMAND`): the parser that gathers every module's
commands, each registering its own, placed by `groups` (serving and reading at the top, then `site`
and `dev`). It sets torch's thread wait policy before any command can load torch (`threads`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import PneumoError
from .threads import use_bounded_spin

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from . import adapt, audit, build, drift, listen, predict, report, serve, site, verify

    from .groups import register_grouped

    # usage lines name the command as it was typed: `pneumo`, or `python -m pneumo_core`
    prog = "pneumo" if Path(sys.argv[0]).name == "pneumo" else "python -m pneumo_core"
    p = argparse.ArgumentParser(prog=prog, description="Pneumonia detection on chest radiographs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # the order `--help` lists them in; `groups` says which sit under `site` and `dev`
    register_grouped(sub, [m.register for m in (serve, listen, predict, drift, report, verify, audit, site, adapt, build)])
    return p


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = _parser()
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and not getattr(args, "passes_options_on", False):  # only `serve` takes options it does not know
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    args.passed_on = passed_on
    return args


def main(argv: list[str] | None = None) -> int:
    use_bounded_spin()  # before any command imports torch
    try:
        try:
            args = _parse(argv)
        except SystemExit as exc:  # argparse exits 2 on usage errors; keep that contract
            return int(exc.code or 0)
        return args.func(args)
    except PneumoError as exc:  # every error the product raises on purpose (a missing home too): one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
