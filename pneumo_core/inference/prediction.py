"""One film's result, as every caller sees it: the CLI's JSON line (`to_record`, the
product's contract), and what the app, the heatmaps and the drift alarm also need from the
scoring pass (logit, features, the model input), kept off that line.

What happened to the film is in fields, never to be parsed back from the warnings: `status`
(scored, not assessed, error), the input gate's `reasons` (codes, `gate.REASONS` words them),
the orientation `correction` undone before scoring, and the `out_of_distribution` flag."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gate import NOT_ASSESSED_PREFIX

__all__ = ["Prediction", "SCORED", "NOT_ASSESSED", "ERROR"]

SCORED, NOT_ASSESSED, ERROR = "scored", "not_assessed", "error"


@dataclass
class Prediction:
    file: str
    probability: float | None
    label: str | None
    threshold: float
    model: str
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    ood_score: float | None = None
    site: str | None = None           # the site profile's name, when one calibrated `probability`
    logit: float | None = None        # the source-calibrated logit (raw logit / temperature)
    features: np.ndarray | None = field(default=None, repr=False)  # penultimate features, for drift checks
    # the uint8 SxS image the model saw (upright when the gate corrected it), so a heatmap
    # explains exactly what was scored without decoding the file again; not in `to_record`
    model_input: np.ndarray | None = field(default=None, repr=False)
    reasons: tuple[str, ...] = ()     # why the call is withheld: `gate.REASONS` codes
    correction: int | None = None     # `orientation.TRANSFORMS` index undone before scoring (None: scored as given)
    out_of_distribution: bool = False  # scored, but unlike the training radiographs (`OOD_WARNING` says so)
    sha256: str | None = None         # of the bytes read and scored (None: not read), for the audit trail

    @property
    def status(self) -> str:
        """`error` (the file could not be read), `not_assessed` (read, call withheld) or `scored`."""
        if self.error is not None:
            return ERROR
        return NOT_ASSESSED if self.probability is None else SCORED

    @property
    def unscored_reason(self) -> str | None:
        """Why there is no probability: the read error, or the input gate's "not assessed: ..."."""
        if self.probability is not None:
            return None
        return self.error or next((w for w in self.warnings if w.startswith(NOT_ASSESSED_PREFIX)), "not scored")

    def to_record(self) -> dict:
        """The CLI's JSON line contract: these eight keys, and `site` when a site profile is in use."""
        d = {k: getattr(self, k) for k in ("file", "status", "probability", "label", "threshold", "model", "warnings",
                                           "error")}
        d["warnings"] = list(d["warnings"])
        if self.site is not None:
            d["site"] = self.site
        return d
