"""Tests for pneumo_core.app.serve's exposure check: loopback by default, and no listening
beyond it without login and a named host. Fast: the refusal comes before the model loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.launcher_probe import COMPLETE_LOGIN, loopback_directory, serve_from, team_installation
from pneumo_core.app.runtime import paths
from pneumo_core.app.serve import exposure_problem
from pneumo_core.io.network import is_loopback  # the rule's own tests: tests/io/test_network.py

LOOPBACK = ["localhost", "127.0.0.1"]


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "::", "10.0.0.5", "pneumo.hospital.example"])
def test_listening_beyond_loopback_without_login_is_refused_whatever_the_hosts(address):
    problem = exposure_problem(address, ["pneumo.hospital.example"], "no [auth] section.")
    assert problem and problem.startswith("refusing") and "without login" in problem and "\n" not in problem


@pytest.mark.parametrize("hosts", [[], ["*"], ["pneumo.hospital.example", "*"], LOOPBACK])
def test_listening_beyond_loopback_with_login_still_needs_the_host_name_users_type(hosts):
    problem = exposure_problem("0.0.0.0", hosts, None)
    assert problem and "server.allowedHosts" in problem


def test_login_and_a_named_host_allow_listening_beyond_loopback():
    assert exposure_problem("0.0.0.0", [*LOOPBACK, "pneumo.hospital.example"], None) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost"])
def test_loopback_with_loopback_host_names_needs_no_login(address):
    assert exposure_problem(address, LOOPBACK, "no [auth] section.") is None


@pytest.mark.parametrize("hosts", [[*LOOPBACK, "pneumo.hospital.example"], ["*.hospital.example"], ["*"], []])
def test_host_names_beyond_loopback_without_login_are_refused_as_behind_a_reverse_proxy(hosts):
    problem = exposure_problem("127.0.0.1", hosts, "no [auth] section.")
    assert problem and "server.allowedHosts" in problem and "without login" in problem


def _serve(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pneumo_core.app.serve", *args], cwd=paths.REPO_DIR,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_the_launcher_refuses_every_interface_in_one_line_before_loading_the_model(tmp_path):
    no_secrets = str(tmp_path / "absent.toml")  # not the installation's own secrets, whatever they hold
    done = _serve("--server.address", "0.0.0.0", "--secrets.files", no_secrets)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("pneumo: refusing to listen on 0.0.0.0 without login")
    by_env = _serve("--secrets.files", no_secrets, STREAMLIT_SERVER_ADDRESS="10.0.0.5")  # Streamlit's own variable
    assert by_env.returncode == 2 and "on 10.0.0.5 without login" in by_env.stderr
    proxied = _serve("--server.allowedHosts", "pneumo.hospital.example", "--secrets.files", no_secrets)
    assert proxied.returncode == 2 and "server.allowedHosts" in proxied.stderr


def test_the_launcher_refuses_a_login_that_lacks_settings_even_on_loopback(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "https://pneumo.hospital.example/oauth2callback"\n')
    done = _serve("--secrets.files", str(secrets))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "incomplete login" in done.stderr and "cookie_secret" in done.stderr


@pytest.mark.parametrize("trail", ["a-file/audit.jsonl", "a-folder"])
def test_the_launcher_refuses_an_unwritable_audit_trail_in_one_line_before_loading_the_model(tmp_path, trail):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    done = _serve("--secrets.files", str(tmp_path / "absent.toml"), PNEUMO_AUDIT_LOG=str(tmp_path / trail))
    assert done.returncode == 2 and done.stdout == "", done.stderr[-2000:]  # before: it served, and each page erred
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"pneumo: refusing to start: the audit trail {tmp_path / trail} cannot be written (")
    assert done.stderr.rstrip().endswith("set PNEUMO_AUDIT_LOG to a writable file")


def test_a_plain_streamlit_run_listens_on_loopback_and_accepts_only_loopback_host_names():
    # what `streamlit run streamlit_app.py` reads from .streamlit/config.toml, without the launcher
    code = ("import json; from streamlit import config; from streamlit.web import bootstrap; "
            "bootstrap.load_config_options({}); print(json.dumps([config.get_option('server.address'), "
            "list(config.get_option('server.allowedHosts'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_DIR, capture_output=True, text=True, timeout=60)
    address, hosts = json.loads(done.stdout)
    assert address == "127.0.0.1" and set(hosts) == {"localhost", "127.0.0.1", "::1"}


# --- started from another directory (issue 27, item 8): the check and the server read the same files ---

def test_started_from_a_bare_directory_the_launcher_serves_the_installations_loopback_settings(tmp_path):
    done, server = serve_from(tmp_path)
    assert server is not None, done.stderr[-2000:]  # before: refused, having read no config.toml at all
    assert server["address"] == "127.0.0.1" and server["login"] is False and server["cwd"] == str(paths.REPO_DIR)
    assert "pneumo: settings from" in done.stdout and "listening on 127.0.0.1" in done.stdout


def test_started_from_a_directory_with_its_own_settings_the_launcher_checks_what_the_server_loads(tmp_path):
    own = tmp_path / ".streamlit"
    own.mkdir()
    (own / "config.toml").write_text('[server]\naddress = "0.0.0.0"\nallowedHosts = ["pneumo.hospital.example"]\n')
    (own / "secrets.toml").write_text(COMPLETE_LOGIN)
    done, server = serve_from(tmp_path)
    assert server is not None, done.stderr[-2000:]
    checked = next(line for line in done.stdout.splitlines() if line.startswith("pneumo: settings from"))
    assert f"listening on {server['address']}, host names {', '.join(server['hosts'])}, " \
           f"login {'on' if server['login'] else 'off'}" in checked  # before: the check approved another set
    assert f"not reading {own}" in done.stderr and server["login"] is False and is_loopback(server["address"])


def test_relative_paths_typed_elsewhere_keep_their_meaning_in_the_installation(tmp_path, monkeypatch):
    from pneumo_core.app.serve import enter_installation
    monkeypatch.chdir(tmp_path)
    env = {"PNEUMO_AUDIT_LOG": "var/a.jsonl", "STREAMLIT_SECRETS_FILES": "s1.toml /etc/s2.toml",
           "PNEUMO_AUDIT_ANCHOR": "syslog://loghost"}
    argv = enter_installation(["--secrets.files", "s.toml", "--server.sslCertFile=c.pem", "--server.port", "9"], env)
    assert os.getcwd() == str(paths.REPO_DIR)
    assert argv == ["--secrets.files", str(tmp_path / "s.toml"), f"--server.sslCertFile={tmp_path / 'c.pem'}",
                    "--server.port", "9"]
    assert env == {"PNEUMO_AUDIT_LOG": str(tmp_path / "var/a.jsonl"),
                   "STREAMLIT_SECRETS_FILES": f"{tmp_path / 's1.toml'} /etc/s2.toml", "PNEUMO_AUDIT_ANCHOR": "syslog://loghost"}


def test_a_login_in_secrets_named_relative_to_another_directory_is_the_one_checked(tmp_path):
    (tmp_path / "team.toml").write_text('[auth]\nredirect_uri = "https://pneumo.hospital.example/oauth2callback"\n')
    done = subprocess.run([sys.executable, "-m", "pneumo_core.app.serve", "--secrets.files", "team.toml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(paths.REPO_DIR), "HOME": str(tmp_path / "absent")})
    assert done.returncode == 2 and "incomplete login" in done.stderr  # read from tmp_path, not the installation


@pytest.mark.parametrize("installation_login", [False, True])
def test_an_installation_serving_a_team_is_checked_from_any_directory_never_every_interface_without_login(
        tmp_path, installation_login):
    """The issue's case: the installation listens beyond loopback for a team; started from a directory whose own
    settings say loopback and hold secrets without [auth], the old check passed and the server then listened on
    every interface without login (the check's secrets, cached, were the ones the server used)."""
    installation = team_installation(tmp_path / "installation", login=installation_login)
    elsewhere = loopback_directory(tmp_path / "elsewhere")
    done, server = serve_from(elsewhere, TEST_ENTRYPOINT=str(installation))
    if installation_login:
        assert server == {"address": "0.0.0.0", "cwd": str(installation.parent), "hosts": ["pneumo.hospital.example"],
                          "login": True}, done.stderr[-2000:]
    else:
        assert server is None and done.returncode == 2, server
        assert "pneumo: refusing to listen on 0.0.0.0 without login" in done.stderr


def test_with_login_an_installation_without_its_gated_app_refuses_to_start_in_one_line(tmp_path):
    """Serving streamlit_app.py instead would leave uploads, media files and cache clearing to clients
    that are not signed in: the launcher refuses, as it does every other exposure."""
    installation = team_installation(tmp_path / "installation", login=True)
    (installation.parent / "gated_app.py").unlink()
    done, server = serve_from(tmp_path / "installation", TEST_ENTRYPOINT=str(installation))
    assert server is None and done.returncode == 2
    assert f"pneumo: refusing to start: {installation.parent / 'gated_app.py'} is missing" in done.stderr
