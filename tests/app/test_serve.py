"""Tests for pneumo_core.app.serve's exposure check: loopback by default, and no listening
beyond it without login and a named host. Fast: the refusal comes before the model loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pneumo_core.app.runtime import paths
from pneumo_core.app.serve import exposure_problem, is_loopback

LOOPBACK = ["localhost", "127.0.0.1"]


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("LOCALHOST.", True), ("::1", True),
    ("[::1]", True), (None, False), ("", False), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
    ("pneumo.hospital.example", False), ("localhost.hospital.example", False),
])
def test_only_loopback_addresses_count_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


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


def test_a_plain_streamlit_run_listens_on_loopback_and_accepts_only_loopback_host_names():
    # what `streamlit run streamlit_app.py` reads from .streamlit/config.toml, without the launcher
    code = ("import json; from streamlit import config; from streamlit.web import bootstrap; "
            "bootstrap.load_config_options({}); print(json.dumps([config.get_option('server.address'), "
            "list(config.get_option('server.allowedHosts'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_DIR, capture_output=True, text=True, timeout=60)
    address, hosts = json.loads(done.stdout)
    assert address == "127.0.0.1" and set(hosts) == {"localhost", "127.0.0.1", "::1"}
