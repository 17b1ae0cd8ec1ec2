"""The launcher started as a user starts it, from any directory, reporting from inside the server the
settings it then serves with: what the launcher's check and the server really load (issue #27 item 8).

`serve_from(cwd, *options)` runs this file in `cwd` with a bare home (no `~/.streamlit` of the runner's)
and returns the process and the server's settings (None when the launcher refused to start). Run as a
script, it stubs the model's warm-up (not what is probed), optionally points the launcher at a stand-in
installation (`TEST_ENTRYPOINT`), starts `serve.main(options)`, and once the server runs prints
`SERVER {json}` and ends the process. The `pneumo_core` probed is the one on `PYTHONPATH` (`code`): this
checkout's, or another's (the code before a change)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARK = "SERVER "

__all__ = ["serve_from", "team_installation", "loopback_directory", "COMPLETE_LOGIN", "MARK"]

COMPLETE_LOGIN = """[auth]
redirect_uri = "https://pneumo.hospital.example/oauth2callback"
cookie_secret = "0123456789abcdef0123456789abcdef"
client_id = "pneumo"
client_secret = "not-a-real-secret"
server_metadata_url = "https://idp.hospital.example/.well-known/openid-configuration"
"""


def team_installation(folder: Path, login: bool) -> Path:
    """A stand-in installation in `folder` serving a team (every interface, a named host), with a complete
    `[auth]` or none; returns its entrypoint (for `TEST_ENTRYPOINT`)."""
    (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
    (folder / "streamlit_app.py").write_text("import streamlit as st\nst.write('app')\n")
    (folder / "gated_app.py").write_text((REPO / "gated_app.py").read_text())  # the product's door, as shipped
    (folder / ".streamlit" / "config.toml").write_text(
        '[server]\naddress = "0.0.0.0"\nallowedHosts = ["pneumo.hospital.example"]\n')
    (folder / ".streamlit" / "secrets.toml").write_text(COMPLETE_LOGIN if login else "[pacs]\n")
    return folder / "streamlit_app.py"


def loopback_directory(folder: Path) -> Path:
    """A directory whose own `.streamlit/` says loopback, with secrets but no `[auth]`: where the launcher is typed."""
    (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
    (folder / ".streamlit" / "config.toml").write_text('[server]\naddress = "127.0.0.1"\nallowedHosts = ["localhost"]\n')
    (folder / ".streamlit" / "secrets.toml").write_text("[pacs]\n")
    return folder


def serve_from(cwd: Path, *options: str, code: Path = REPO, timeout_s: float = 120,
               **env: str) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Runs the launcher in `cwd` (with `code`'s `pneumo_core`) on a free port; the process, and the settings the
    server served with, or None when it did not start."""
    home = cwd / "home"
    home.mkdir(exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(code), "HOME": str(home), **env}
    done = subprocess.run([sys.executable, __file__, "--server.port", str(port), *options], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout_s, env=env)
    server = [json.loads(line[len(MARK):]) for line in done.stdout.splitlines() if line.startswith(MARK)]
    return done, (server[0] if server else None)


def _report() -> None:
    from streamlit.runtime import Runtime
    while not (Runtime.exists() and Runtime.instance().state.name == "NO_SESSIONS_CONNECTED"):
        time.sleep(0.1)
    from streamlit import config

    from pneumo_core.app.access import identity
    print(MARK + json.dumps({"address": config.get_option("server.address"), "cwd": os.getcwd(),
                             "hosts": list(config.get_option("server.allowedHosts")),
                             "login": identity.login_configured()}), flush=True)
    os._exit(0)


def _main(options: list[str]) -> None:
    sys.path[0:1] = []  # this file's folder: `pneumo_core` comes from PYTHONPATH, this checkout's or another's
    from pneumo_core.app import serve
    from pneumo_core.app.runtime import warmup
    warmup.warm_up = lambda wait=True: None
    if os.environ.get("TEST_ENTRYPOINT"):  # a stand-in installation, with settings of its own
        serve.ENTRYPOINT = Path(os.environ["TEST_ENTRYPOINT"])
    threading.Thread(target=_report, daemon=True).start()
    serve.main(options)


if __name__ == "__main__":
    _main(sys.argv[1:])
