"""What an adaptation method is expected to mean for patients, read from the validation study
that chose it (`weights/<model>/adapt_study_val.json` for the operating-point methods,
`adapt_study_normalisation_val.json` for the normalisation ones): sensitivity and specificity
on validation films under simulated site shifts, never a measurement at the user's site.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["STUDY_FILES", "ValidationExpectation", "validation_expectation"]

STUDY_FILES = ("adapt_study_val.json", "adapt_study_normalisation_val.json")
UNADAPTED = "none"  # the record's name for the model's own threshold on the same draws


@dataclass(frozen=True)
class ValidationExpectation:
    method: str
    study: str                  # the record's file name
    shifts: int                 # simulated site shifts (the clean films count as one)
    prevalences: tuple[float, ...]
    draws: int                  # per shift and prevalence
    sensitivity: float          # mean over shifts and prevalences of the mean over draws
    specificity: float
    worst_sensitivity: float    # the lowest shift-and-prevalence mean
    worst_specificity: float
    unadapted_sensitivity: float | None  # the model's own threshold on the same draws
    unadapted_specificity: float | None
    unadapted_worst_sensitivity: float | None  # its lowest shift-and-prevalence mean
    unadapted_worst_specificity: float | None
    chosen: bool                # the study's rule chose this method


def _means(summary: dict, method: str, key: str) -> list[float]:
    return [float(by_m[method][key]["mean"]) for by_p in summary.values() for by_m in by_p.values()]


def validation_expectation(model_dir: str | Path, method: str) -> ValidationExpectation | None:
    """The study's figures for `method`, or None when no validation record of it ships."""
    for name in STUDY_FILES:
        path = Path(model_dir) / name
        try:
            record = json.loads(path.read_text())
            summary = record["summary"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not summary or not all(method in by_m for by_p in summary.values() for by_m in by_p.values()):
            continue
        sens, spec = _means(summary, method, "sensitivity"), _means(summary, method, "specificity")
        has_unadapted = all(UNADAPTED in by_m for by_p in summary.values() for by_m in by_p.values())
        return ValidationExpectation(
            method=method, study=name, shifts=len(summary),
            prevalences=tuple(float(p) for p in record.get("prevalences", next(iter(summary.values())).keys())),
            draws=int(record.get("draws", 0)), sensitivity=float(np.mean(sens)), specificity=float(np.mean(spec)),
            worst_sensitivity=min(sens), worst_specificity=min(spec),
            unadapted_sensitivity=float(np.mean(_means(summary, UNADAPTED, "sensitivity"))) if has_unadapted else None,
            unadapted_specificity=float(np.mean(_means(summary, UNADAPTED, "specificity"))) if has_unadapted else None,
            unadapted_worst_sensitivity=min(_means(summary, UNADAPTED, "sensitivity")) if has_unadapted else None,
            unadapted_worst_specificity=min(_means(summary, UNADAPTED, "specificity")) if has_unadapted else None,
            chosen=record.get("chosen") == method)
    return None
