"""Launcher: check who could reach the server, warm the model, then serve the app, in one process.

    python -m pneumo_core.app.serve [streamlit run options, e.g. --server.port 8501]

Exposure: `.streamlit/config.toml` listens on 127.0.0.1 and accepts only loopback Host
headers, so a plain `streamlit run` is safe too. Serving anyone else (another address, or
another host name, as behind a reverse proxy) makes the app a door into patient records, so
the launcher refuses it, in one line and before the model loads, unless login is configured
(`exposure_problem`). The options are resolved by Streamlit's own parser (flags, `STREAMLIT_*`
variables, config files), so the check sees what the server will do.

One directory: `streamlit run` reads `.streamlit/` both from the directory it is started in and
from the entrypoint's, the latter winning, so a check made from elsewhere read other files than
the server then loaded. The launcher therefore always moves into the installation's directory
first (`enter_installation`): the check and the server read the same `~/.streamlit` and
`<installation>/.streamlit` files, from wherever `make run` was typed. Relative paths given in
flags or variables keep meaning what they meant where they were typed.

Audit trail: no result may be shown unrecorded, so a trail (or anchor file) that cannot be written is refused
here too, in one line and before the model loads (`audit.readiness`); the app's door says the same to
a browser when the app is started otherwise (`access.login.admit`).

Warm-up: Streamlit runs the app's script only when a browser connects, so under a plain
`streamlit run` the first visitor waits for torch, the model, the CAM stack and their
first passes. Here they are done (`warmup.warm_up(wait=True)`) before the server takes
its first request; Streamlit then starts in this same process, so its sessions find the
warmed `st.cache_resource` predictor and the imported modules.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import MutableMapping, Sequence

from ..io.network import is_loopback
from .runtime.paths import ENTRYPOINT

__all__ = ["main", "ENTRYPOINT", "check_exposure", "enter_installation", "exposure_problem"]

GATED = "gated_app.py"  # beside the entrypoint: the same app as an st.App behind `access.gate` (uploads, media, cache)
_SEE = "See docs/serving.md, or serve on 127.0.0.1 with the shipped .streamlit/config.toml."
# options and variables whose value is a path, so relative to the directory the command was typed in
_PATH_FLAGS = ("--secrets.files", "--server.sslCertFile", "--server.sslKeyFile")
_PATH_VARIABLES = ("STREAMLIT_SECRETS_FILES", "STREAMLIT_SERVER_SSL_CERT_FILE", "STREAMLIT_SERVER_SSL_KEY_FILE",
                   "PNEUMO_AUDIT_LOG", "PNEUMO_AUDIT_ANCHOR")
_QUIET = ("streamlit.runtime.caching.cache_data_api", "streamlit.runtime.scriptrunner_utils.script_run_context")


def exposure_problem(address: str | None, allowed_hosts: Sequence[str], login_problem: str | None) -> str | None:
    """Why serving on `address` would expose the app, or None when it is safe to start.

    Without login the app is for the person at this machine: loopback address, loopback Host
    names only (a host name in `server.allowedHosts` means users reach it by that name, e.g.
    through a reverse proxy). With login, listening beyond loopback needs the users' host name
    in `server.allowedHosts`, and no empty or `*` list (DNS rebinding).

    Args:
        address: `server.address` (None or "" listens on every interface).
        allowed_hosts: `server.allowedHosts`.
        login_problem: None when login is configured, else what is missing.
    """
    hosts = [h.strip() for h in allowed_hosts]
    any_host = not hosts or "*" in hosts
    where = f"on {address}" if address else "on every network interface"
    if login_problem is not None:
        if not is_loopback(address):
            return f"refusing to listen {where} without login: {login_problem} {_SEE}"
        if any_host or not all(is_loopback(h) for h in hosts):
            return (f"refusing to accept host names other than loopback (server.allowedHosts) without login: "
                    f"{login_problem} {_SEE}")
        return None
    if is_loopback(address):
        return None
    if any_host:
        return (f"refusing to listen {where} with server.allowedHosts accepting any Host header (DNS rebinding): "
                "set it to the host name users type (see docs/serving.md).")
    if all(is_loopback(h) for h in hosts):
        return (f"refusing to listen {where}: server.allowedHosts names only loopback hosts, so no other machine "
                "could connect; add the host name users type (see docs/serving.md).")
    return None


def _login_problem() -> str | None:
    """None when `st.login` has all it needs, else why not (in Streamlit's words, on one line)."""
    from streamlit.auth_util import is_authlib_installed, validate_auth_credentials
    from streamlit.errors import StreamlitAuthError

    from .access import identity
    if not identity.login_configured():
        return "the app's secrets (.streamlit/secrets.toml) have no [auth] section."
    if not is_authlib_installed():
        return "Authlib is missing (pip install 'streamlit[auth]')."
    try:
        validate_auth_credentials("default")
    except StreamlitAuthError as exc:
        return " ".join(str(exc).split())
    from .access import sessions
    return sessions.session_problem(identity.auth_settings().get("session_hours", sessions.DEFAULT_SESSION_HOURS))


def _absolute(value: str, start: Path) -> str:
    if not value or value.startswith("syslog"):  # PNEUMO_AUDIT_ANCHOR may name syslog, not a file
        return value
    return str(start / Path(value).expanduser())  # an absolute path stays as it is


def enter_installation(argv: Sequence[str], environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Moves into the installation's directory (the entrypoint's), where `streamlit run` reads the same `.streamlit/` files as the
    launcher's check, and returns `argv` with relative paths (secrets, TLS files) made absolute against the
    directory it was typed in; path variables in `environ` (default `os.environ`) are made absolute too."""
    environ = os.environ if environ is None else environ
    start = Path.cwd()
    out: list[str] = []
    pending = False
    for token in argv:
        name, eq, value = token.partition("=")
        if pending:
            out.append(_absolute(token, start))
        elif name in _PATH_FLAGS and eq:
            out.append(f"{name}={_absolute(value, start)}")
        else:
            out.append(token)
        pending = not pending and not eq and name in _PATH_FLAGS
    for key in _PATH_VARIABLES:
        if not environ.get(key):
            continue
        if key == "STREAMLIT_SECRETS_FILES":  # a list, split on white space as Streamlit's parser does
            environ[key] = " ".join(_absolute(v, start) for v in environ[key].split())
        else:
            environ[key] = _absolute(environ[key], start)
    home, ignored = ENTRYPOINT.parent, start / ".streamlit"
    if start.resolve() != home.resolve() and ignored.is_dir():
        print(f"pneumo: not reading {ignored}: the app's settings are in {home / '.streamlit'} and "
              "~/.streamlit, STREAMLIT_* variables and flags, whatever directory it is started from",
              file=sys.stderr, flush=True)
    os.chdir(home)
    return out


def check_exposure(argv: Sequence[str]) -> str | None:
    """Resolves the options `streamlit run` would use with `argv` and checks them (`exposure_problem`);
    an `[auth]` section that `st.login` could not use is refused wherever the app listens.

    Raises:
        RuntimeError: when not called from the installation's directory (`enter_installation`), where
            the server would read other `.streamlit/` files than this check."""
    if Path.cwd().resolve() != ENTRYPOINT.parent.resolve():
        raise RuntimeError(f"check_exposure must run in {ENTRYPOINT.parent} (enter_installation), not {Path.cwd()}")
    import click
    from streamlit import config
    from streamlit.web import bootstrap, cli
    try:
        ctx = cli.main_run.make_context("run", [str(ENTRYPOINT), *argv])
    except click.ClickException as exc:
        return exc.format_message()
    bootstrap.load_config_options({k: v for k, v in ctx.params.items() if k not in ("target", "args")})
    from .access import identity
    login_problem = _login_problem()
    if login_problem and identity.login_configured():  # a half-made login fails at the start, not at the first click
        return f"refusing to start with an incomplete login: {login_problem}"
    return exposure_problem(config.get_option("server.address"), list(config.get_option("server.allowedHosts") or ()),
                            login_problem)


def _trail_refusal() -> str | None:
    """Why the server must not start for want of an audit trail (`audit.readiness`), or None: it would
    show results it cannot record. Asked here, in the installation, where relative paths were made absolute."""
    from ..audit.readiness import trail_problem
    problem = trail_problem()
    return f"refusing to start: {problem}" if problem else None


def _checked() -> str:
    """What the check approved, on one line (the server resolves the same files: `enter_installation`)."""
    from streamlit import config

    from .access import identity
    address = config.get_option("server.address") or "every interface"
    hosts = ", ".join(config.get_option("server.allowedHosts") or ()) or "any"
    return (f"settings from {ENTRYPOINT.parent / '.streamlit'}; listening on {address}, host names {hosts}, "
            f"login {'on' if identity.login_configured() else 'off'}")


def _script() -> Path:
    """With login, the gated app beside the entrypoint (same folder, so the same `.streamlit/` files):
    uploads, media files and cache clearing only for signed-in users. Without login, the entrypoint."""
    from .access import identity
    return ENTRYPOINT.parent / GATED if identity.login_configured() else ENTRYPOINT


def _gate_refusal() -> str | None:
    """With login, serving without the gated app would open uploads, media files and cache clearing to
    clients that are not signed in: refused, like every other exposure."""
    script = _script()
    if script.is_file():
        return None
    return f"refusing to start: {script} is missing, and login needs it (uploads and media files for signed-in users only)"


def main(argv: list[str] | None = None) -> None:
    """Moves into the installation, checks the exposure, warms up, then runs `streamlit run streamlit_app.py`
    with `argv` there; returns when the server stops. Exits with status 2 and one line when the exposure is refused
    or the audit trail cannot be written."""
    from ..cli.threads import use_bounded_spin  # run directly (not as `pneumo serve`): the same OpenMP policy

    use_bounded_spin()
    argv = enter_installation(sys.argv[1:] if argv is None else argv)
    t0 = time.monotonic()
    importlib.import_module("streamlit")  # creates its loggers, with their levels
    problem = check_exposure(argv) or _trail_refusal() or _gate_refusal()
    if problem:
        print(f"pneumo: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    print(f"pneumo: {_checked()}", flush=True)
    # "No runtime found" and "missing ScriptRunContext" are expected here: the runtime starts below
    quiet = [logging.getLogger(name) for name in _QUIET]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        from .runtime import warmup
        warmup.warm_up(wait=True)
    finally:
        for q, level in zip(quiet, levels):
            q.setLevel(level)
    print(f"pneumo: model warmed up in {time.monotonic() - t0:.1f} s; starting the server", flush=True)
    from streamlit.web import cli
    sys.argv = ["streamlit", "run", str(_script()), *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
