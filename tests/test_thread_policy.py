"""The product's OpenMP wait policy (pneumo_core/cli/threads.py): the command line sets it before
torch loads, never over a deployer's choice, and importing the library changes nothing in its
caller's environment. Each case runs a fresh interpreter: libgomp reads the policy once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
POLICY = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
SEEN = "print(json.dumps({k: os.environ.get(k) for k in %r}))" % (POLICY,)
LIBRARY = "import json, os, pneumo_core, pneumo_core.inference.predictor; " + SEEN
# `--help` builds the whole parser (every command's module), then the environment is read
COMMAND = ("import json, os, sys; from pneumo_core.cli.main import main; torch_first = 'torch' in sys.modules; "
           "main(['--help']); print(json.dumps({'torch_first': torch_first, **{k: os.environ.get(k) for k in %r}}))"
           % (POLICY,))
MODULE = ("import json, os, runpy, sys; sys.argv = ['pneumo_core', '--help']\n"
          "try:\n    runpy.run_module('pneumo_core', run_name='__main__')\nexcept SystemExit:\n    pass\n" + SEEN)


def _seen(code: str, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in POLICY}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=base | env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_library_leaves_the_callers_environment_alone():
    assert _seen(LIBRARY) == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None}


def test_the_command_line_sets_a_bounded_spin_before_torch_loads():
    from pneumo_core.cli.threads import SPIN_COUNT
    assert _seen(COMMAND) == {"torch_first": False, "OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": SPIN_COUNT}


def test_python_dash_m_pneumo_core_sets_it_too():
    from pneumo_core.cli.threads import SPIN_COUNT
    assert _seen(MODULE) == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": SPIN_COUNT}


@pytest.mark.parametrize("env", [{"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "300000"},
                                 {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "5"}])
def test_a_deployers_wait_policy_or_spin_count_is_left_as_set(env):
    # libgomp lets a spin count override OMP_WAIT_POLICY, so none may be added beside a policy
    assert _seen(COMMAND, **env) == {"torch_first": False, "OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY"),
                                     "GOMP_SPINCOUNT": env.get("GOMP_SPINCOUNT")}


def test_pneumo_serve_becomes_the_launcher_with_the_policy_set(monkeypatch):
    """`pneumo serve` execs the launcher (same process, same environment), so the server's torch loads
    under the policy the command set; Streamlit's options after `serve` reach the launcher as typed."""
    from pneumo_core.cli import main
    from pneumo_core.cli.threads import SPIN_COUNT
    for key in POLICY:  # absent while the command runs, and as they were afterwards
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, argv, os.environ.get("GOMP_SPINCOUNT"))))
    main(["serve", "--server.port", "8502", "--server.headless=true"])
    assert calls == [(sys.executable, [sys.executable, "-P", "-m", "pneumo_core.app.serve", "--server.port", "8502",
                                       "--server.headless=true"], SPIN_COUNT)]
