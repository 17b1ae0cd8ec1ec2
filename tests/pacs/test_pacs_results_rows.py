"""The PACS page's results table (`pneumo_core.app.pacs.pacs_page.results_rows`) prints each
probability as the Diagnose table and the case view do (`stats.display.format_probability`),
not as the raw float a dataframe shows to six places."""
from __future__ import annotations

import dataclasses

import pytest

from pneumo_core.app.pacs import pacs_page
from pneumo_core.app.reading import results_table
from pneumo_core.app.reading.cases import CaseResult


def _case(name: str, probability: float | None) -> CaseResult:
    return dataclasses.replace(CaseResult.unscored(name, name, "efficientnet_lite0"), probability=probability)


@pytest.mark.parametrize("probability, shown", [(0.99962, "> 99.9%"), (0.123456, "12.3%"), (0.5, "50.0%"),
                                                (0.00041, "< 0.1%"), (None, "–")])
def test_a_study_row_prints_p_as_the_case_and_the_diagnose_table_do(probability, shown):
    cases = [_case("ACC-1 · PA · 2024-01-01", probability)]
    (row,) = pacs_page.results_rows(cases, 0.5, "balanced")
    assert row[results_table.P_COLUMN] == shown


def test_the_call_in_a_study_row_still_comes_from_the_number_not_the_printed_text():
    (row,) = pacs_page.results_rows([_case("a", 0.4996)], 0.4995, "balanced")
    assert row[results_table.P_COLUMN] == "50.0%" and row["label"] == "PNEUMONIA"
