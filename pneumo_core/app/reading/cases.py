"""One scored input and what the Diagnose page makes of it, without Streamlit: the
threshold-free `CaseResult`, its call at a threshold, table rows, CSV, display copies and
heatmap overlay. A result keeps the model's logit, so a labelled site profile's probability
is derived from the cached score by the profile's predictor (`scoring.case_on_site`) and
switching to it never re-scores; an adapted profile brings its own network, whose scores are
cached apart (`scoring`).
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ...io.identity import FilmIdentity
from ...io.overlay import render_overlay
from ...io.spreadsheet import csv_cell
from ...stats.decision import call_label
from ...inference.gate import NOT_ASSESSED_PREFIX
from ...inference.prediction import Prediction
from ...reporting.case import case_name
from ..runtime.formatting import SOURCE_CALIBRATION

__all__ = ["DISPLAY_MAX_SIDE", "FILM_MAX_SIDE", "BORDERLINE", "CaseResult", "content_digest", "label_at", "case_id", "result_rows",
    "case_title", "case_titles", "IDENTITY_COLUMNS", "batch_summary", "case_details", "distinct_warnings", "rows_to_csv", "to_display", "blend"]

DISPLAY_MAX_SIDE = 768  # px sent to the browser per image; big DICOMs are downsampled for display only
FILM_MAX_SIDE = 2048  # px of the viewer's copy: full resolution for most films, bounded for huge DICOMs
BORDERLINE = 0.05  # |p - threshold| below this is called out as borderline
IDENTITY_COLUMNS = tuple(FilmIdentity().columns())  # the table's patient columns: on screen, in a CSV only when chosen
_PACS_PREFIX = "dicomweb:"


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def label_at(probability: float, threshold: float) -> str:
    """Same rule as `Predictor.label`, without loading a model."""
    return call_label(probability, threshold)


@dataclass
class CaseResult:
    """One input as the reading room holds it (cached; nothing here depends on the threshold):
    the scoring pass's `Prediction` (its facts: status, reasons, correction, OOD flag, logit,
    features, the model input; as the predictor of the profile in use reports it), the
    probability as shown, what it is calibrated on, and what the page draws."""
    prediction: Prediction
    digest: str
    probability: float | None = None  # as shown, calibrated as `calibration` says (`scored` starts it at the prediction's)
    calibration: str = SOURCE_CALIBRATION  # what `probability` is calibrated on, in plain words
    source_format: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    display: np.ndarray | None = None  # uint8 HxW, at most DISPLAY_MAX_SIDE a side
    film: np.ndarray | None = field(default=None, repr=False)  # uint8 HxW for the viewer, at most FILM_MAX_SIDE
    size: tuple[int, int] | None = None  # original (width, height) in pixels
    identity: FilmIdentity | None = field(default=None, repr=False)  # a DICOM's patient fields: the screen's only

    @classmethod
    def scored(cls, prediction: Prediction, digest: str, **drawing) -> CaseResult:
        """A prediction as the page shows it, with its probability under the source calibration."""
        return cls(prediction, digest, prediction.probability, **drawing)

    @classmethod
    def unscored(cls, name: str, digest: str, model: str, error: str | None = None,
                 not_assessed: str | None = None) -> CaseResult:
        """A file that was not read (`error`), or one ruled out before scoring (`not_assessed`, the reason)."""
        warnings = [not_assessed] if not_assessed else []
        return cls(Prediction(name, None, None, float("nan"), model, warnings, error), digest)

    name = property(lambda self: self.prediction.file)
    model = property(lambda self: self.prediction.model)
    warnings = property(lambda self: self.prediction.warnings)
    error = property(lambda self: self.prediction.error)
    status = property(lambda self: self.prediction.status)
    reasons = property(lambda self: self.prediction.reasons)
    correction = property(lambda self: self.prediction.correction)
    out_of_distribution = property(lambda self: self.prediction.out_of_distribution)
    ood_score = property(lambda self: self.prediction.ood_score)
    logit = property(lambda self: self.prediction.logit)
    features = property(lambda self: self.prediction.features)
    model_input = property(lambda self: self.prediction.model_input)

    @property
    def ok(self) -> bool:
        return self.error is None and self.probability is not None

    @property
    def not_assessed(self) -> str | None:
        """The input gate's reason ("not assessed: ...") when the file was read but gets no call."""
        if self.status != "not_assessed":
            return None
        return next((w for w in self.warnings if w.startswith(NOT_ASSESSED_PREFIX)), NOT_ASSESSED_PREFIX.rstrip(": "))


def distinct_warnings(result: CaseResult) -> list[str]:
    """Each warning once: the input gate's "not assessed: <reasons>" repeats warnings the
    prediction already carries (a colour photo's "image has colour; ..."), so a warning its
    reason already says is left out, and the reason is kept."""
    warnings = list(dict.fromkeys(result.warnings))
    reason = result.not_assessed
    if not reason:
        return warnings
    said = reason.removeprefix(NOT_ASSESSED_PREFIX)
    return [w for w in warnings if w == reason or w not in said]


def case_id(result: CaseResult, accession: str = "") -> str:
    """How the CSV and the PDF name this case (`reporting.case.case_name`, the one rule)."""
    return case_name(accession, result.metadata.get("SOPInstanceUID"), result.digest)


def case_title(result: CaseResult) -> str:
    """How the reading room names a case on screen: from its DICOM header ("A123 · PA ·
    2024-01-01"), else its file name; a PACS instance without those fields by the end of its
    instance UID (its whole "dicomweb:<study>/<series>/<instance>" says nothing to a reader)."""
    if result.identity and result.identity.title:
        return result.identity.title
    if result.name.startswith(_PACS_PREFIX):
        return f"instance …{result.name.rsplit('/', 1)[-1][-12:].lstrip('.')}"
    return result.name


def case_titles(results: list[CaseResult]) -> list[str]:
    """`case_title` for each case, a repeated title numbered ("A123 · PA · 2024-01-01 (2)"): two
    films of one study can share accession, view and date, and a list must tell them apart."""
    titles = [case_title(r) for r in results]
    counts = Counter(titles)
    seen: dict[str, int] = {}
    out = []
    for t in titles:
        seen[t] = seen.get(t, 0) + 1
        out.append(t if counts[t] == 1 else f"{t} ({seen[t]})")
    return out


def result_rows(results: list[CaseResult], threshold: float, operating_point_name: str,
                accessions: list[str] | None = None) -> list[dict]:
    """One row per case; `accessions` (typed per case, "" when none) name the cases (`case_id`).
    The "name" (`case_titles`) and "file" columns are for the screen; `rows_to_csv` leaves them
    out (the file unless asked). No patient field is in a row: the case view shows them."""
    rows = []
    for i, (r, title) in enumerate(zip(results, case_titles(results))):
        rows.append({
            "name": title,
            "case": case_id(r, accessions[i] if accessions else ""),
            "file": r.name,
            "P(pneumonia)": r.probability,
            "label": label_at(r.probability, threshold) if r.ok else ("not assessed" if r.not_assessed else "not scored"),
            "threshold": round(threshold, 4),
            "operating point": operating_point_name,
            "model": r.model,
            "calibration": r.calibration,
            "warnings / error": ("ERROR: " + r.error) if r.error else "; ".join(distinct_warnings(r)),
        })
    return rows


def batch_summary(results: list[CaseResult], threshold: float) -> str:
    ok = [r for r in results if r.ok]
    n_pos = sum(label_at(r.probability, threshold) == "PNEUMONIA" for r in ok)
    parts = [f"{len(results)} image{'s' if len(results) != 1 else ''}", f"{n_pos} called PNEUMONIA",
             f"{len(ok) - n_pos} called NORMAL"]
    withheld = sum(r.not_assessed is not None for r in results)
    if withheld:
        parts.append(f"{withheld} not assessed")
    if len(ok) + withheld < len(results):
        parts.append(f"{len(results) - len(ok) - withheld} not scored")
    if any(r.warnings for r in ok):
        parts.append(f"{sum(bool(r.warnings) for r in ok)} with warnings")
    return ", ".join(parts)


def case_details(result: CaseResult) -> list[dict]:
    """Field/value rows for one scored file: format, size, OOD score, whitelisted DICOM tags."""
    rows = [{"field": "format", "value": str(result.source_format)}]
    if result.size is not None:
        rows.append({"field": "size (px)", "value": f"{result.size[0]} x {result.size[1]}"})
    if result.ood_score is not None:
        # pooled for display; the flag judges each term against its own validation limit
        rows.append({"field": "out-of-distribution score (pooled)", "value": f"{result.ood_score:.2f}"})
    rows += [{"field": f"DICOM {k}", "value": str(v)} for k, v in result.metadata.items()]
    return rows


def rows_to_csv(rows: list[dict], file_names: bool = False,
                identities: list[FilmIdentity | None] | None = None) -> bytes:
    """The table as CSV cells a spreadsheet cannot execute; file names (an upload's name often
    carries the patient's) only when the reader chose them, and the header's patient fields
    (`IDENTITY_COLUMNS`) only when the caller passes them (one per row: the reader chose them).
    The screen's "name" is never written: it is made of those same fields."""
    dropped = {"name"} | (set() if file_names else {"file"})
    rows = [{k: v for k, v in row.items() if k not in dropped} for row in rows]
    if identities is not None:
        rows = [{**row, **(who or FilmIdentity()).columns()} for row, who in zip(rows, identities, strict=True)]
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: csv_cell(v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def to_display(pixels: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """Float [0,1] HxW -> uint8 for the browser, aspect ratio kept."""
    img = Image.fromarray(np.clip(np.rint(np.asarray(pixels, np.float32) * 255), 0, 255).astype(np.uint8))
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.LANCZOS)
    return np.asarray(img)


def blend(gray_u8: np.ndarray, heatmap: np.ndarray, opacity: float, target_class: str = "PNEUMONIA",
          dimmed: bool = False) -> np.ndarray:
    """The product's one overlay (`io.overlay.render_overlay`) over the displayed radiograph."""
    return render_overlay(gray_u8, heatmap, opacity, target_class, dimmed)
