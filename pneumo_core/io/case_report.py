"""One-page case report (PDF or PNG) for a scored radiograph, drawn with matplotlib.

Built on `matplotlib.figure.Figure` without pyplot, so reports can be rendered from
several app threads at once. Every string that came from the user (file name,
warnings that quote DICOM values) is drawn with `parse_math=False`: a `$` in a file
name must print as a dollar sign, not start mathtext (or fail to parse).
"""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["ReportCase", "render_report", "REPORT_DISCLAIMER", "report_disclaimer"]

_DISCLAIMER_HEAD = ("RESEARCH DEMO - NOT A DIAGNOSIS. Not a medical device; not for clinical decisions. "
                    "Trained on paediatric chest radiographs (ages 1-5) from a single centre; ")
REPORT_DISCLAIMER = _DISCLAIMER_HEAD + "the probability is calibrated on validation data from that centre only."
_A4 = (8.27, 11.69)
_PNEUMONIA, _NORMAL = "#d95f02", "#1f77b4"


@dataclass
class ReportCase:
    file_name: str
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


def report_disclaimer(site: str | None) -> str:
    """`REPORT_DISCLAIMER`, its calibration clause true for the calibration in use."""
    if site is None:
        return REPORT_DISCLAIMER
    return (_DISCLAIMER_HEAD + f"the probability is recalibrated for {site} on a small labelled sample from that "
            "site; the model itself was not retrained.")


def _text(fig: Figure, x: float, y: float, s: str, **kw) -> None:
    fig.text(x, y, s, parse_math=False, va="top", **kw)


def _wrap(s: str, width: int = 95) -> list[str]:
    return textwrap.wrap(" ".join(str(s).split()), width) or [""]


def render_report(case: ReportCase, fmt: str = "pdf") -> bytes:
    """A4 portrait page: disclaimer banner, image and heatmap, the numbers, warnings."""
    if fmt not in ("pdf", "png"):
        raise ValueError("fmt must be 'pdf' or 'png'")
    fig = Figure(figsize=_A4, dpi=100)
    fig.patch.set_facecolor("white")
    banner = fig.add_axes((0.05, 0.925, 0.9, 0.05))
    banner.set_axis_off()
    banner.add_patch(Rectangle((0, 0), 1, 1, color="#fde2cf", transform=banner.transAxes))
    banner.text(0.5, 0.5, "RESEARCH DEMO - NOT A DIAGNOSIS", ha="center", va="center", fontsize=15,
                fontweight="bold", color="#8a2e00", transform=banner.transAxes, parse_math=False)
    _text(fig, 0.05, 0.915, "Pneumonia detector - case report", fontsize=17, fontweight="bold")

    # images
    has_overlay = case.overlay is not None
    width = 0.43 if has_overlay else 0.9
    ax = fig.add_axes((0.05, 0.53, width, 0.33))
    ax.imshow(case.image, cmap="gray" if case.image.ndim == 2 else None, vmin=0, vmax=255)
    ax.set_title("Radiograph (as decoded)", fontsize=10)
    ax.set_axis_off()
    if has_overlay:
        ax2 = fig.add_axes((0.52, 0.53, 0.43, 0.33))
        ax2.imshow(case.overlay)
        ax2.set_title(f"{case.method} heatmap, explains {case.target_class}", fontsize=10, parse_math=False)
        ax2.set_axis_off()

    # probability bar with the threshold
    bar = fig.add_axes((0.05, 0.455, 0.9, 0.035))
    colour = _PNEUMONIA if case.label == "PNEUMONIA" else _NORMAL
    bar.barh([0], [case.probability], color=colour, height=1.0)
    bar.axvline(case.threshold, color="black", linestyle="--", linewidth=1.5)
    bar.set_xlim(0, 1)
    bar.set_ylim(-0.5, 0.5)
    bar.set_yticks([])
    bar.set_xticks(np.linspace(0, 1, 11))
    bar.tick_params(labelsize=8)
    bar.set_xlabel(f"P(pneumonia), {case.calibration}", fontsize=8, labelpad=2, parse_math=False)
    bar.text(case.threshold, 1.08, f"threshold {case.threshold:.3f}", ha="center", va="bottom", fontsize=8,
             transform=bar.get_xaxis_transform(), parse_math=False)

    y = 0.405
    lines = [
        ("File", case.file_name),
        ("P(pneumonia)", f"{case.probability:.4f}, {case.calibration}"),
        ("Calibration", case.calibration_detail or case.calibration),
        ("Call at this threshold", case.label),
        ("Operating point", f"{case.operating_point} (threshold {case.threshold:.3f})"),
        ("Model", f"{case.model}" + (f" - {case.model_description}" if case.model_description else "")),
    ]
    if case.metadata:
        lines.append(("DICOM (non-identifying)", ", ".join(f"{k}={v}" for k, v in case.metadata.items())))
    for key, value in lines:
        wrapped = _wrap(value, 70)
        _text(fig, 0.05, y, key + ":", fontsize=10, fontweight="bold")
        _text(fig, 0.34, y, "\n".join(wrapped), fontsize=10,
              color=colour if key == "Call at this threshold" else "black",
              fontweight="bold" if key == "Call at this threshold" else "normal")
        y -= 0.022 * len(wrapped) + 0.006

    y -= 0.01
    _text(fig, 0.05, y, "Warnings:", fontsize=10, fontweight="bold")
    y -= 0.022
    for w in case.warnings or ["none"]:
        wrapped = _wrap(w)
        _text(fig, 0.07, y, "- " + "\n  ".join(wrapped), fontsize=9, color="#8a2e00" if case.warnings else "black")
        y -= 0.019 * len(wrapped) + 0.004
    if case.heatmap_note:
        y -= 0.01
        _text(fig, 0.05, y, "About the heatmap:", fontsize=10, fontweight="bold")
        y -= 0.022
        wrapped = _wrap(case.heatmap_note)
        _text(fig, 0.07, y, "\n".join(wrapped), fontsize=9)

    _text(fig, 0.05, 0.075, "\n".join(_wrap(report_disclaimer(case.site), 100)), fontsize=8.5, color="#8a2e00")
    _text(fig, 0.05, 0.03, "Generated " + datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
          fontsize=7.5, color="#666666")

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, facecolor="white", metadata={"Title": "Pneumonia detector case report (research demo)"}
                if fmt == "pdf" else None)
    return buf.getvalue()
