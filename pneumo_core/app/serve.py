"""Launcher: warm the model, then serve the app, in one process.

    python -m pneumo_core.app.serve [streamlit run options, e.g. --server.port 8501]

Streamlit runs the app's script only when a browser connects, so under a plain
`streamlit run` the first visitor waits for torch, the model, the CAM stack and their
first passes. Here they are done (`warmup.warm_up(wait=True)`) before the server takes
its first request; Streamlit then starts in this same process, so its sessions find the
warmed `st.cache_resource` predictor and the imported modules.
"""
from __future__ import annotations

import importlib
import logging
import sys
import time

from .paths import REPO_DIR

__all__ = ["main", "ENTRYPOINT"]

ENTRYPOINT = REPO_DIR / "streamlit_app.py"
_QUIET = ("streamlit.runtime.caching.cache_data_api", "streamlit.runtime.scriptrunner_utils.script_run_context")


def main(argv: list[str] | None = None) -> None:
    """Warms up, then runs `streamlit run streamlit_app.py` with `argv`; returns when the server stops."""
    argv = sys.argv[1:] if argv is None else list(argv)
    t0 = time.monotonic()
    importlib.import_module("streamlit")  # creates its loggers, with their levels
    # "No runtime found" and "missing ScriptRunContext" are expected here: the runtime starts below
    quiet = [logging.getLogger(name) for name in _QUIET]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        from . import warmup
        warmup.warm_up(wait=True)
    finally:
        for q, level in zip(quiet, levels):
            q.setLevel(level)
    print(f"pneumo: model warmed up in {time.monotonic() - t0:.1f} s; starting the server", flush=True)
    from streamlit.web import cli
    sys.argv = ["streamlit", "run", str(ENTRYPOINT), *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
