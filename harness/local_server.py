"""The app served headless on a free loopback port, for whatever drives it in a real browser
(the browser tests, the timing benchmark, the README's screenshots): started, waited for until
its health endpoint answers, and stopped whatever happens. Chromium's path and flags live here
too, so those three drive the same browser the same way."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

REPO_DIR = Path(__file__).resolve().parent.parent


__all__ = ["LAUNCHER", "PLAIN", "CHROMIUM", "CHROMIUM_ARGS", "LocalServer", "local_server", "free_port", "ServerFailed", "wait_idle"]

LAUNCHER = (sys.executable, "-m", "pneumo_core.app.serve")  # warms the model before it serves (`make run`)
PLAIN = (sys.executable, "-m", "streamlit", "run", "streamlit_app.py")  # Streamlit's own: warms on the first visit
HEADLESS = ("--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false")
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download cannot run offline
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class ServerFailed(RuntimeError):
    """The server exited or never became healthy; the message ends with its log's tail."""


@dataclass(frozen=True)
class LocalServer:
    url: str        # http://127.0.0.1:PORT
    ready_s: float  # process start until the health endpoint answered
    log: Path


def free_port() -> int:
    """A loopback port free now: for a server whose URL must be known before it starts (a login's redirect URI)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextmanager
def local_server(log: Path, command: Sequence[str] = LAUNCHER, flags: Sequence[str] = (),
                 timeout_s: float = 300.0, port: int | None = None) -> Iterator[LocalServer]:
    """Runs `command` (the launcher, or `PLAIN`) headless on `port` (default: a free one), its output in `log`."""
    port = port or free_port()
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([*command, "--server.port", str(port), *HEADLESS, *flags], cwd=REPO_DIR, stdout=out,
                                stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - t0 > timeout_s:
                    raise ServerFailed(f"the app did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.05)
        yield LocalServer(f"http://127.0.0.1:{port}", time.monotonic() - t0, log)
    finally:
        _stop(proc)


def wait_idle(page, timeout_s: float) -> None:
    """Until the page's script run has finished (and stayed finished for a moment): a Playwright page."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if page.get_attribute('[data-testid="stApp"]', "data-test-script-state") == "notRunning":
            page.wait_for_timeout(600)
            if page.get_attribute('[data-testid="stApp"]', "data-test-script-state") == "notRunning":
                return
        page.wait_for_timeout(200)
    raise AssertionError("the app was still running after the timeout")
