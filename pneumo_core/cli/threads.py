"""How torch's OpenMP threads wait between parallel regions, set by the product's commands
(`pneumo`, `python -m pneumo_core`, and so `pneumo serve`, whose server runs in that process)
before torch loads: libgomp reads it once, then. A library does not change its caller's
environment, so `import pneumo_core` leaves it alone; a program that imports the library sets
its own.

A film's prediction and heatmap run hundreds of short regions. Sleeping at once
(OMP_WAIT_POLICY=PASSIVE) made them 1.7x slower on free cores; spinning is fastest there but
slows when another busy process shares a core. A spin of 10,000 rounds kept libgomp's free-core
speed and was a little less exposed than its default 300,000 (`benchmarks/bench_inference.py`,
`thread_policies`; docs/saliency.md). On a shared host set OMP_WAIT_POLICY=PASSIVE. A deployer's
OMP_WAIT_POLICY or GOMP_SPINCOUNT wins: libgomp lets a spin count override the policy, so neither
is touched when either is set."""
from __future__ import annotations

import os
from typing import MutableMapping

__all__ = ["SPIN_COUNT", "use_bounded_spin"]

SPIN_COUNT = "10000"


def use_bounded_spin(environ: MutableMapping[str, str] | None = None) -> None:
    """Sets GOMP_SPINCOUNT to `SPIN_COUNT` in `environ` (default `os.environ`) unless the deployer set
    OMP_WAIT_POLICY or GOMP_SPINCOUNT. Call it before torch is imported: later it changes nothing."""
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" not in environ:
        environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
