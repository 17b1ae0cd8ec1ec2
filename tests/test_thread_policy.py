"""The product's OpenMP wait policy (pneumo_core/__init__.py): set before torch loads, and
never over a deployer's choice. Each case runs a fresh interpreter: the policy is read once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROBE = ("import json, os, pneumo_core.inference.predictor; "
         "print(json.dumps({k: os.environ.get(k) for k in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')}))")


def _policy_seen(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=base | env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_library_sets_a_bounded_spin_before_torch_loads():
    import pneumo_core
    assert _policy_seen() == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": pneumo_core.SPIN_COUNT}


@pytest.mark.parametrize("env", [{"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "300000"},
                                 {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "5"}])
def test_a_deployers_wait_policy_or_spin_count_is_left_as_set(env):
    # libgomp lets a spin count override OMP_WAIT_POLICY, so none may be added beside a policy
    assert _policy_seen(**env) == {"OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY"),
                                   "GOMP_SPINCOUNT": env.get("GOMP_SPINCOUNT")}
