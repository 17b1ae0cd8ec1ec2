"""The structured report read back with highdicom: what a PACS or a test gets out of it.

The reader knows the layout `results_dicom` writes (one TID 1501 measurement group, the codes
named there) and returns plain values, so a check compares numbers, not DICOM trees.
"""
from __future__ import annotations

from dataclasses import dataclass

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes

from .results_dicom import CI_CODES, PNEUMONIA, PROBABILITY, SENSITIVITY, SPECIFICITY, THRESHOLD

__all__ = ["ReadResults", "read_results"]

_ALGORITHM_NAME, _ALGORITHM_VERSION, _ALGORITHM_PARAMETERS = "111001", "111003", "111002"


@dataclass(frozen=True)
class ReadResults:
    """An SR's content as values; `parameters` maps each Algorithm Parameter's name ("weights
    sha256", "operating point", "calibration", ...) to its text."""
    probability: float
    threshold: float
    call: str                   # "PNEUMONIA" when the SR says Pneumonia: Present, else "NORMAL"
    sensitivity: float | None
    sensitivity_ci: tuple[float, float] | None
    specificity: float | None
    specificity_ci: tuple[float, float] | None
    model: str
    version: str
    parameters: dict[str, str]
    source_sop_uid: str         # the film the group's measurements are about

    @property
    def weights_sha256(self) -> str:
        return self.parameters.get("weights sha256", "")


def _value(group: hd.sr.MeasurementsAndQualitativeEvaluations, code) -> float | None:
    found = group.get_measurements(name=code)
    return float(found[0].value) if found else None


def _interval(group, what: str) -> tuple[float, float] | None:
    low, high = (_value(group, code) for code in CI_CODES[what])
    return None if low is None or high is None else (low, high)


def _algorithm(group) -> tuple[str, str, dict[str, str]]:
    name = version = ""
    parameters: dict[str, str] = {}
    for item in group[0].ContentSequence:
        code = item.name.value
        if code == _ALGORITHM_NAME:
            name = str(item.value)
        elif code == _ALGORITHM_VERSION:
            version = str(item.value)
        elif code == _ALGORITHM_PARAMETERS:
            key, _, text = str(item.value).partition(": ")
            parameters[key] = text
    return name, version, parameters


def read_results(dataset: pydicom.Dataset) -> ReadResults:
    """The values of a structured report `results_dicom` wrote; ValueError when it holds none."""
    sr = hd.sr.ComprehensiveSR.from_dataset(dataset)
    groups = sr.content.get_image_measurement_groups()
    if len(groups) != 1:
        raise ValueError(f"expected one measurement group, found {len(groups)}")
    group = groups[0]
    probability, threshold = _value(group, PROBABILITY), _value(group, THRESHOLD)
    calls = group.get_qualitative_evaluations(name=PNEUMONIA)
    if probability is None or threshold is None or not calls:
        raise ValueError("the structured report holds no probability, threshold or call")
    present = calls[0].value == codes.SCT.Present
    name, version, parameters = _algorithm(group)
    return ReadResults(probability, threshold, "PNEUMONIA" if present else "NORMAL",
                       _value(group, SENSITIVITY), _interval(group, "sensitivity"),
                       _value(group, SPECIFICITY), _interval(group, "specificity"), name, version, parameters,
                       str(group.source_images[0].referenced_sop_instance_uid))
