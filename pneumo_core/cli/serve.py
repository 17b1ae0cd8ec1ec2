"""`serve`: the app, through its launcher (`python -m pneumo_core.app.serve`: the exposure check, the
warm-up, then `streamlit run`). Every option after `serve` is Streamlit's (`pneumo serve --server.port
8502`), passed on as typed.

The command becomes the launcher (exec: the same process, so a service manager's signals reach the
server, and the environment `main` set, the thread wait policy included, holds when its torch loads)
rather than importing it: the library never imports the app. `-P` keeps the directory the command
was typed in off the launcher's import path, as it is off a console script's: a `streamlit.py` or
`pneumo_core/` lying there is not imported."""
from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register", "LAUNCHER"]

LAUNCHER = "pneumo_core.app.serve"


def _cmd_serve(args: argparse.Namespace) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-P", "-m", LAUNCHER, *args.passed_on])
    return 0  # not reached: exec returns only by raising OSError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the app (what `make run` starts)",
                       description="Check who could reach the server, warm the model, then serve the app. Options "
                                   "after `serve` go to `streamlit run` (e.g. --server.port 8502); the app's "
                                   "settings are its home's .streamlit/config.toml (docs/serving.md).")
    p.set_defaults(func=_cmd_serve, passes_options_on=True)
