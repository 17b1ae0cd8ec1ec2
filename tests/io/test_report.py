"""Tests for pneumo_core.io.case_report: the downloadable case report.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pneumo_core.app.runtime import formatting
from pneumo_core.io.case_report import (FIELD_LIMITS, REPORT_DISCLAIMER, ReportCase, reader_lines, render_report,
                                       report_lines)


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
    pdf = render_report(_case(show_file_name=True), "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    png = Image.open(io.BytesIO(render_report(_case(show_file_name=True), "png")))
    assert png.size == (827, 1169)  # A4 at 100 dpi


def test_report_names_the_case_by_its_id_and_prints_the_file_name_only_when_chosen():
    case = _case(file_name="SMITH_JOHN.png", case_id="accession A123",
                 metadata={"Modality": "CR", "SOPInstanceUID": "1.2.3.4"})
    lines = dict(report_lines(case))
    assert lines["Case"] == "accession A123"
    assert "File" not in lines and not any("SMITH" in v for v in lines.values())
    assert "1.2.3.4" not in lines["DICOM (non-identifying)"]  # an identifier is not listed as non-identifying
    assert dict(report_lines(_case(file_name="SMITH_JOHN.png", show_file_name=True)))["File"] == "SMITH_JOHN.png"


def test_report_without_heatmap_or_warnings_still_renders():
    out = render_report(_case(overlay=None, warnings=[], metadata={}, heatmap_note=""), "png")
    assert out.startswith(b"\x89PNG")


def test_report_refuses_unknown_formats():
    with pytest.raises(ValueError):
        render_report(_case(), "svg")


def test_report_disclaimer_says_research_demo_not_diagnosis():
    assert "NOT A DIAGNOSIS" in REPORT_DISCLAIMER and "research" in formatting.DISCLAIMER.lower()


def test_report_states_the_operating_points_sensitivity_and_specificity_with_their_intervals():
    case = _case(sensitivity=0.93, sensitivity_ci=(0.9, 0.95), specificity=0.62, specificity_ci=(0.57, 0.68),
                 operating_point_words="finds about 9 in 10 children with pneumonia",
                 operating_point_source="official test split")
    expected = dict(report_lines(case))["Expected at this point"]
    assert expected.startswith("sensitivity 0.93 (95% CI 0.90-0.95), specificity 0.62 (95% CI 0.57-0.68)")
    assert "finds about 9 in 10" in expected and "official test split" in expected
    assert "Calibration" in dict(report_lines(case))


def test_report_says_so_when_no_estimate_exists_at_the_threshold():
    expected = dict(report_lines(_case(operating_point_source="no honest estimate here")))["Expected at this point"]
    assert expected == "no honest estimate here" and "sensitivity" not in expected


def test_reader_fields_print_what_was_typed_and_blanks_otherwise_never_a_dicom_tag():
    typed = dict(reader_lines(_case(accession_number=" ACC-7\n", impression="Clear lungs.", reader="Dr Who",
                                    metadata={"AccessionNumber": "FROM-TAG"})))
    assert typed == {"Accession number": "ACC-7", "Reader's impression": "Clear lungs.",
                     "Reviewed and signed by": "Dr Who"}
    blank = dict(reader_lines(_case(metadata={"AccessionNumber": "FROM-TAG"})))
    assert set(blank.values()) == {"_" * 40}


def test_an_impression_longer_than_the_page_holds_is_cut_to_its_limit():
    lines = dict(reader_lines(_case(impression="x" * 5000)))
    assert len(lines["Reader's impression"]) == FIELD_LIMITS["impression"]
    assert render_report(_case(impression="word " * 1000, accession_number="$x$"), "png").startswith(b"\x89PNG")



@pytest.mark.parametrize("p, printed", [(0.99995, "> 99.9%"), (0.73, "73.0%"), (0.0004, "< 0.1%")])
def test_the_report_prints_the_probability_as_the_screen_does_not_as_a_false_certainty(p, printed):
    """Issue #29, item 8: the PDF said "P(pneumonia): 1.0000" where the screen said "> 99.9%"."""
    line = dict(report_lines(_case(probability=p)))["P(pneumonia)"]
    assert line.startswith(f"{printed}, ") and line.split(",")[0] == formatting.format_probability(p)
    assert formatting.format_probability is __import__("pneumo_core.stats.display", fromlist=["x"]).format_probability


def test_a_check_that_already_ends_its_sentence_gets_no_second_full_stop(monkeypatch):
    drawn = []
    monkeypatch.setattr("pneumo_core.io.case_report._text", lambda fig, x, y, s, **kw: drawn.append(s))
    render_report(_case(heatmap_check="The map fails its own check: do not read it as the reason for the call."))
    assert any(s.endswith("reason for the call.") for s in drawn) and not any(".." in s for s in drawn)
