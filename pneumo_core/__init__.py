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
* `node`: the DICOM node (`pneumo listen`): films a PACS pushes by C-STORE from allowed AE titles,
  scored through the same gate and audit trail, their SR and map sent back by DICOMweb or C-STORE;
* `training`: how the shipped models were trained, their files maintained and their runs summarised;
* `cli`, `app`: the `pneumo` command (`python -m pneumo_core`, `pneumo serve`) and what the Streamlit pages
  compute and draw.

The product's files (weights, shipped data, the app's scripts) are found in one place: `io.home`.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import PneumoError

# Importing the library changes nothing in its caller's process: the product's commands set
# torch's OpenMP wait policy themselves, before torch loads (`cli.threads`).

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
    "AuditLog": "audit", "default_log": "audit", "SPIN_COUNT": "cli.threads",
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
