"""Tests for pneumo_core.app.reading.cases: results table, CSV, display copy and overlay of uploads.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from pneumo_core.app.reading import cases
from pneumo_core.inference.prediction import Prediction


def _scored(name: str, digest: str, p: float, warnings=()) -> cases.CaseResult:
    return cases.CaseResult.scored(Prediction(name, p, None, 0.5, "m", list(warnings)), digest)


def _results() -> list[cases.CaseResult]:
    return [_scored("=HYPERLINK(\"http://x\").png", "d1", 0.8, ["image has colour"]),
            cases.CaseResult.unscored("b.png", "d2", "m", error="not an image: looks like a text file"),
            _scored("c.jpeg", "d3", 0.1)]


def test_results_table_keeps_failed_files_with_their_error():
    rows = cases.result_rows(_results(), 0.5, "balanced")
    assert [r["label"] for r in rows] == ["PNEUMONIA", "not scored", "NORMAL"]
    assert rows[1]["P(pneumonia)"] is None and rows[1]["warnings / error"].startswith("ERROR: not an image")
    assert cases.batch_summary(_results(), 0.5) == "3 images, 1 called PNEUMONIA, 1 called NORMAL, 1 not scored, 1 with warnings"


def test_csv_export_defuses_spreadsheet_formulas_in_file_names():
    data = cases.rows_to_csv(cases.result_rows(_results(), 0.5, "balanced"), file_names=True)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert len(rows) == 3 and rows[0]["file"].startswith("'=")
    assert rows[0]["P(pneumonia)"] == "0.800000" and rows[1]["P(pneumonia)"] == ""


def test_csv_names_cases_by_accession_uid_or_hash_and_leaves_file_names_out_unless_chosen():
    results = _results()
    results[0].prediction.file = "SMITH_JOHN_MRN12345.png"
    results[2].metadata = {"SOPInstanceUID": "1.2.840.99.7"}
    results[1].digest = "ab" * 32
    rows = cases.result_rows(results, 0.5, "balanced", ["ACC 77", "", ""])
    data = cases.rows_to_csv(rows).decode("utf-8")
    assert "SMITH" not in data and "file" not in next(csv.DictReader(io.StringIO(data)))
    assert [r["case"] for r in csv.DictReader(io.StringIO(data))] == ["accession ACC 77", "sha256 " + "ab" * 6,
                                                                       "instance 1.2.840.99.7"]
    assert "SMITH_JOHN_MRN12345.png" in cases.rows_to_csv(rows, file_names=True).decode("utf-8")


def test_overlay_keeps_the_radiograph_size_and_leaves_cold_regions_untinted():
    gray = np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))
    heat = np.zeros((7, 7), np.float32)
    heat[0, 0] = 1.0
    out = cases.blend(gray, heat, 0.6)
    assert out.shape == (200, 300, 3) and out.dtype == np.uint8
    assert np.array_equal(out[-1, -1], np.repeat(gray[-1, -1], 3))  # heat 0: the radiograph as it is
    assert not np.array_equal(out[0, 0], np.repeat(gray[0, 0], 3))
    assert np.array_equal(cases.blend(gray, heat, 0.0), np.repeat(gray[..., None], 3, axis=2))


def test_display_copy_of_a_big_image_is_downsampled_with_its_aspect_ratio():
    out = cases.to_display(np.random.default_rng(0).random((3000, 2000), dtype=np.float32))
    assert max(out.shape) == cases.DISPLAY_MAX_SIDE and out.dtype == np.uint8
    assert out.shape[0] / out.shape[1] == pytest.approx(1.5, rel=0.01)


