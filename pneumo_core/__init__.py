"""pneumo_core: pneumonia detection on chest radiographs, from decoding to saliency.

One package per concern, listed from the bottom up; a package imports only its own layer and
those below it (`tests/test_house.py` holds this), and nothing here imports the app:

* `audit`, `io`, `stats`: the hash-chained audit trail of who did what; reading any film into one grey image, the CSV and PDF that leave the
  product; metrics with patient-bootstrap intervals and the one decision rule;
* `data`: the dataset's layout, the patient-grouped split, preprocessing, augmentation;
* `models`, `monitoring`: architectures, the registry, a trained model's bundle and its
  `model.json`; the label-free drift alarm on a model's features;
* `calibration`, `adaptation`: from logit to probability and call, on validation data or for a
  site with a few labels; a site's operating point (or normalisation) from its unlabelled films;
* `inference`: the shared `Predictor` with its input gate, out-of-distribution checks and heatmaps;
* `evaluation`, `pacs`, `reporting`: a labelled split measured, and what a threshold means for
  patients; studies read from and reports stored to a PACS over DICOMweb; the words of a case's
  report and of the heatmap's check, one home for each;
* `training`: how the shipped models were trained, their files maintained and their runs summarised;
* `cli`, `app`: `python -m pneumo_core` and what the Streamlit pages compute and draw.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from .errors import PneumoError

# How torch's OpenMP threads wait between parallel regions: read once, when torch loads, so
# set here, before any module of ours imports torch. A film's prediction and heatmap run
# hundreds of short regions. Sleeping at once (OMP_WAIT_POLICY=PASSIVE) made them 1.7x slower
# on free cores; spinning is fastest there but slows when another busy process shares a core.
# A spin of 10,000 rounds kept libgomp's free-core speed and was a little less exposed than
# its default 300,000 (`benchmarks/bench_inference.py`, `thread_policies`; docs/saliency.md).
# On a shared host set OMP_WAIT_POLICY=PASSIVE. A deployer's OMP_WAIT_POLICY or GOMP_SPINCOUNT
# wins (libgomp lets a spin count override the policy, so neither is touched when either is
# set); a process that imported torch before pneumo_core keeps what it had.
SPIN_COUNT = "10000"
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)

__version__ = "0.1.0"

# The names a user of the library needs, importable from the top (`from pneumo_core import
# Predictor`) and loaded on first use, so `import pneumo_core` stays light (no torch) for the
# app's first page and the command line's --help.
_PUBLIC = {
    "Predictor": "inference.predictor", "Prediction": "inference.prediction", "explain": "inference.saliency",
    "load_bundle": "models.bundle", "list_models": "models.bundle", "ModelBundle": "models.bundle",
    "WeightsError": "models.bundle", "verify_bundle": "models.manifest",
    "load_radiograph": ("io.ingest", "load"), "Radiograph": "io.ingest", "IngestError": "io.ingest",
    "SiteProfile": "calibration.site", "load_profile": "calibration.site", "SiteProfileError": "calibration.site",
    "AuditLog": "audit", "default_log": "audit",
}
__all__ = ["PneumoError", "__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'pneumo_core' has no attribute {name!r}")
    module, attr = _PUBLIC[name] if isinstance(_PUBLIC[name], tuple) else (_PUBLIC[name], name)
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
