"""The app's server with a watch on Streamlit's shared caches, to see from outside whether a client's
`clear_cache` emptied them (Streamlit clears every user's `st.cache_data` and `st.cache_resource` for it).

    python harness/cache_probe.py serve|plain [streamlit run options]

`serve` runs the launcher (`pneumo_core.app.serve`: with login, the gated app), `plain` a bare
`streamlit run streamlit_app.py`, in this process; beside the server a thread caches a sentinel
with `st.cache_resource` and prints `cache-probe: cleared N` each time it finds it gone. Only the
thread is added: the server is the same code, in the same process, as without the probe."""
from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import streamlit as st  # noqa: E402

PREFIX = "cache-probe:"
_THREAD = "cache-probe"


@st.cache_resource(show_spinner=False)
def _sentinel() -> object:
    return object()


class _NotOurs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _THREAD  # "missing ScriptRunContext": this thread is outside any script run


def _watch() -> None:
    seen, cleared = _sentinel(), 0
    print(f"{PREFIX} watching", flush=True)
    while True:
        time.sleep(0.2)
        now = _sentinel()
        if now is not seen:
            cleared += 1
            print(f"{PREFIX} cleared {cleared}", flush=True)
            seen = now


def main(argv: list[str]) -> None:
    kind, options = argv[0], argv[1:]
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_NotOurs())
    threading.Thread(target=_watch, name=_THREAD, daemon=True).start()
    if kind == "serve":
        from pneumo_core.app import serve
        serve.main(options)
        return
    from streamlit.web import cli
    sys.argv = ["streamlit", "run", str(REPO / "streamlit_app.py"), *options]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
