"""Tests for pneumo_core.io.case_report: the downloadable case report.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pneumo_core.app import formatting
from pneumo_core.io.case_report import REPORT_DISCLAIMER, ReportCase, render_report


def _case(**kw) -> ReportCase:
    img = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (300, 1))
    base = dict(file_name="$\\frac{1}{0}$ **x** <b>y</b>.png", probability=0.73, label="PNEUMONIA", threshold=0.46,
                operating_point="balanced", model="efficientnet_lite0", image=img,
                overlay=np.repeat(img[..., None], 3, axis=2), model_description="test model", method="Grad-CAM",
                target_class="PNEUMONIA", heatmap_note="Relative map.", warnings=["out of distribution: $$ unlike"],
                metadata={"Modality": "CR", "ViewPosition": "AP"})
    base.update(kw)
    return ReportCase(**base)


def test_report_renders_a_file_name_full_of_mathtext_and_markup_as_plain_text():
    pdf = render_report(_case(), "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    png = Image.open(io.BytesIO(render_report(_case(), "png")))
    assert png.size == (827, 1169)  # A4 at 100 dpi


def test_report_without_heatmap_or_warnings_still_renders():
    out = render_report(_case(overlay=None, warnings=[], metadata={}, heatmap_note=""), "png")
    assert out.startswith(b"\x89PNG")


def test_report_refuses_unknown_formats():
    with pytest.raises(ValueError):
        render_report(_case(), "svg")


def test_report_disclaimer_says_research_demo_not_diagnosis():
    assert "NOT A DIAGNOSIS" in REPORT_DISCLAIMER and "research" in formatting.DISCLAIMER.lower()
