"""One-page case report (PDF or PNG) for a scored radiograph, drawn with matplotlib.

Built on `matplotlib.figure.Figure` without pyplot, so reports can be rendered from
several app threads at once. Every string that came from the user (file name,
warnings that quote DICOM values, the reader's typed fields) is drawn with
`parse_math=False`: a `$` in a file name must print as a dollar sign, not start mathtext
(or fail to parse).

The reader's fields (accession number, impression, name for sign-off) are what the user
typed before downloading, never DICOM tags: the app does not read identifying tags, and a
report must not carry an accession number the reader did not check. Empty fields print as
blank lines to fill in by hand.
"""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..stats.display import format_probability

__all__ = ["ReportCase", "render_report", "report_lines", "reader_lines", "REPORT_DISCLAIMER", "report_disclaimer",
    "FIELD_LIMITS"]

_DISCLAIMER_HEAD = ("RESEARCH DEMO - NOT A DIAGNOSIS. Not a medical device; not for clinical decisions. "
                    "Trained on paediatric chest radiographs (ages 1-5) from a single centre; ")
REPORT_DISCLAIMER = _DISCLAIMER_HEAD + "the probability is calibrated on validation data from that centre only."
_A4 = (8.27, 11.69)
FIELD_LIMITS = {"accession_number": 64, "impression": 360, "reader": 100}  # characters; the page has room for these
_BLANK = "_" * 40
_PNEUMONIA, _NORMAL = "#d95f02", "#1f77b4"


@dataclass
class ReportCase:
    file_name: str  # printed only when `show_file_name`: an upload's name often carries the patient's
    probability: float
    label: str
    threshold: float
    operating_point: str
    model: str
    image: np.ndarray  # uint8, HxW grey or HxWx3
    overlay: np.ndarray | None = None  # uint8 HxWx3, heatmap blended over the image
    model_description: str = ""
    method: str = ""
    target_class: str = ""
    heatmap_note: str = ""
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    calibration: str = "calibrated on validation data"  # what the probability is calibrated on, in plain words
    calibration_detail: str = ""  # one sentence: the sample it was fitted on, where the thresholds come from
    site: str | None = None  # the site profile's name, when one calibrated the probability
    calibration_clause: str = ""  # how that profile calibrates it (`reporting.words.calibration_clause`)
    heatmap_check: str = ""  # the check in words (`reporting.region_check.RegionCheck.text`)
    heatmap_shortcut: str = ""  # the shortcut check in words (`reporting.shortcut_check.ShortcutCheck.text`)
    # the operating point's expected sensitivity and specificity (95% intervals), in words, and their source
    sensitivity: float | None = None
    sensitivity_ci: tuple[float, float] | None = None
    specificity: float | None = None
    specificity_ci: tuple[float, float] | None = None
    operating_point_words: str = ""
    operating_point_source: str = ""
    # typed by the reader before download (never from DICOM tags); "" prints a blank to fill in
    accession_number: str = ""
    impression: str = ""
    reader: str = ""
    case_id: str = ""  # how the report names the case: the typed accession, the instance UID or a content hash
    show_file_name: bool = False  # the reader chose to print the file name
    identity: tuple[tuple[str, str], ...] = ()  # the header's patient fields, only when the reader chose to print them


def report_disclaimer(site: str | None, clause: str = "") -> str:
    """`REPORT_DISCLAIMER`, its calibration clause true for the calibration in use: `clause`
    says how the site's profile calibrates the probability (labels, or none)."""
    if site is None:
        return REPORT_DISCLAIMER
    return (_DISCLAIMER_HEAD + f"the probability is {clause or f'calibrated for {site} by a site profile'}; the model "
            "itself was not retrained.")


def _clean(value: str, field_name: str) -> str:
    """A typed field on one line, cut to its limit (`FIELD_LIMITS`)."""
    return " ".join(str(value).split())[:FIELD_LIMITS[field_name]]


def _estimate(value: float, ci: tuple[float, float] | None) -> str:
    return f"{value:.2f}" + (f" (95% CI {ci[0]:.2f}-{ci[1]:.2f})" if ci is not None else "")


def report_lines(case: ReportCase) -> list[tuple[str, str]]:
    """The report's facts as (label, value) rows, in the order printed."""
    lines = [("Case", case.case_id or "not identified")]
    if case.show_file_name:
        lines.append(("File", case.file_name))
    lines += [(k, " ".join(str(v).split())[:64]) for k, v in case.identity]
    lines += [
        ("P(pneumonia)", f"{format_probability(case.probability)}, {case.calibration}"),
        ("Calibration", case.calibration_detail or case.calibration),
        ("Call at this threshold", case.label),
        ("Operating point", f"{case.operating_point} (threshold {case.threshold:.3f})"),
    ]
    if case.sensitivity is not None and case.specificity is not None:
        expected = (f"sensitivity {_estimate(case.sensitivity, case.sensitivity_ci)}, specificity "
                    f"{_estimate(case.specificity, case.specificity_ci)}")
        if case.operating_point_words:
            expected += f": {case.operating_point_words}"
        if case.operating_point_source:
            expected += f" ({case.operating_point_source})"
        lines.append(("Expected at this point", expected))
    else:
        lines.append(("Expected at this point", case.operating_point_source
                      or "no estimate of sensitivity and specificity at this threshold"))
    lines.append(("Model", f"{case.model}" + (f" - {case.model_description}" if case.model_description else "")))
    shown = {k: v for k, v in case.metadata.items() if k != "SOPInstanceUID"}  # the UID names the case above
    if shown:
        lines.append(("DICOM (non-identifying)", ", ".join(f"{k}={v}" for k, v in shown.items())))
    return lines


def reader_lines(case: ReportCase) -> list[tuple[str, str]]:
    """The reader's block: accession number, impression, sign-off; blanks where nothing was typed."""
    return [("Accession number", _clean(case.accession_number, "accession_number") or _BLANK),
            ("Reader's impression", _clean(case.impression, "impression") or _BLANK),
            ("Reviewed and signed by", _clean(case.reader, "reader") or _BLANK)]


def _text(fig: Figure, x: float, y: float, text: str, **kw) -> None:
    fig.text(x, y, text, parse_math=False, va="top", **kw)


def _wrap(text: str, width: int = 95) -> list[str]:
    return textwrap.wrap(" ".join(str(text).split()), width) or [""]


def render_report(case: ReportCase, fmt: str = "pdf") -> bytes:
    """A4 portrait page: disclaimer banner, image and heatmap, the numbers, warnings, the
    reader's block. Each part draws from the top down and returns where the next one starts."""
    if fmt not in ("pdf", "png"):
        raise ValueError("fmt must be 'pdf' or 'png'")
    fig = Figure(figsize=_A4, dpi=100)
    fig.patch.set_facecolor("white")
    _draw_header(fig)
    _draw_images(fig, case)
    colour = _PNEUMONIA if case.label == "PNEUMONIA" else _NORMAL
    _draw_probability_bar(fig, case, colour)
    y = _draw_facts(fig, case, colour, 0.578)
    y = _draw_warnings_and_heatmap_notes(fig, case, y)
    _draw_reader_block(fig, case, y)
    _text(fig, 0.05, 0.075, "\n".join(_wrap(report_disclaimer(case.site, case.calibration_clause), 100)), fontsize=8.5, color="#8a2e00")
    _text(fig, 0.05, 0.03, "Generated " + datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
          fontsize=7.5, color="#666666")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, facecolor="white", metadata={"Title": "Pneumonia detector case report (research demo)"}
                if fmt == "pdf" else None)
    return buf.getvalue()


def _draw_header(fig: Figure) -> None:
    banner = fig.add_axes((0.05, 0.925, 0.9, 0.05))
    banner.set_axis_off()
    banner.add_patch(Rectangle((0, 0), 1, 1, color="#fde2cf", transform=banner.transAxes))
    banner.text(0.5, 0.5, "RESEARCH DEMO - NOT A DIAGNOSIS", ha="center", va="center", fontsize=15,
                fontweight="bold", color="#8a2e00", transform=banner.transAxes, parse_math=False)
    _text(fig, 0.05, 0.915, "Pneumonia detector - case report", fontsize=17, fontweight="bold")


def _draw_images(fig: Figure, case: ReportCase) -> None:
    has_overlay = case.overlay is not None
    ax = fig.add_axes((0.05, 0.675, 0.43 if has_overlay else 0.9, 0.18))
    ax.imshow(case.image, cmap="gray" if case.image.ndim == 2 else None, vmin=0, vmax=255)
    ax.set_title("Radiograph (as decoded)", fontsize=9)
    ax.set_axis_off()
    if has_overlay:
        ax2 = fig.add_axes((0.52, 0.675, 0.43, 0.18))
        ax2.imshow(case.overlay)
        title = f"{case.method} heatmap" + (f", explains {case.target_class}" if case.target_class else "")
        ax2.set_title(title, fontsize=9, parse_math=False)
        ax2.set_axis_off()


def _draw_probability_bar(fig: Figure, case: ReportCase, colour: str) -> None:
    bar = fig.add_axes((0.05, 0.62, 0.9, 0.025))
    bar.barh([0], [case.probability], color=colour, height=1.0)
    bar.axvline(case.threshold, color="black", linestyle="--", linewidth=1.5)
    bar.set_xlim(0, 1)
    bar.set_ylim(-0.5, 0.5)
    bar.set_yticks([])
    bar.set_xticks(np.linspace(0, 1, 11))
    bar.tick_params(labelsize=7.5)
    bar.set_xlabel(f"P(pneumonia), {case.calibration}", fontsize=7.5, labelpad=2, parse_math=False)
    bar.text(case.threshold, 1.08, f"threshold {case.threshold:.3f}", ha="center", va="bottom", fontsize=7.5,
             transform=bar.get_xaxis_transform(), parse_math=False)


def _draw_facts(fig: Figure, case: ReportCase, colour: str, y: float) -> float:
    for key, value in report_lines(case):
        wrapped = _wrap(value, 80)
        call = key == "Call at this threshold"
        _text(fig, 0.05, y, key + ":", fontsize=9, fontweight="bold")
        _text(fig, 0.3, y, "\n".join(wrapped), fontsize=9, color=colour if call else "black",
              fontweight="bold" if call else "normal")
        y -= 0.0155 * len(wrapped) + 0.004
    return y


def _draw_warnings_and_heatmap_notes(fig: Figure, case: ReportCase, y: float) -> float:
    y -= 0.004
    _text(fig, 0.05, y, "Warnings:", fontsize=9, fontweight="bold")
    y -= 0.017
    for w in case.warnings or ["none"]:
        wrapped = _wrap(w, 100)
        _text(fig, 0.07, y, "- " + "\n  ".join(wrapped), fontsize=8.5, color="#8a2e00" if case.warnings else "black")
        y -= 0.0145 * len(wrapped) + 0.003
    if case.heatmap_note or case.heatmap_check or case.heatmap_shortcut:
        y -= 0.004
        _text(fig, 0.05, y, "About the heatmap:", fontsize=9, fontweight="bold")
        y -= 0.017
        check = case.heatmap_check[:1].upper() + case.heatmap_check[1:] if case.heatmap_check else ""
        check += "" if not check or check.endswith(".") else "."
        wrapped = _wrap(" ".join(p for p in (case.heatmap_note, check, case.heatmap_shortcut) if p), 100)
        _text(fig, 0.07, y, "\n".join(wrapped), fontsize=8.5)
        y -= 0.0145 * len(wrapped)
    return y


def _draw_reader_block(fig: Figure, case: ReportCase, y: float) -> None:
    """The reader's fields, boxed, right after the facts."""
    y -= 0.012
    top = y + 0.008
    _text(fig, 0.05, y, "Reader (typed in the app before download; not read from the file)", fontsize=8.5,
          color="#444444")
    y -= 0.019
    for key, value in reader_lines(case):
        wrapped = _wrap(value, 85)
        _text(fig, 0.05, y, key + ":", fontsize=9, fontweight="bold")
        _text(fig, 0.3, y, "\n".join(wrapped), fontsize=9)
        y -= 0.0155 * len(wrapped) + 0.008
    fig.add_artist(Rectangle((0.04, y + 0.004), 0.92, top - y - 0.004, transform=fig.transFigure, fill=False,
                             edgecolor="#999999", linewidth=0.8))
