"""Tests for pneumo_core.app.reading.results_table: the table prints each probability as the
case does. Each test name says the failure it guards against."""
from __future__ import annotations

import pytest

from pneumo_core.app.reading import results_table
from pneumo_core.stats.display import format_probability


@pytest.mark.parametrize("p, shown", [(0.99995, "> 99.9%"), (0.0002, "< 0.1%"), (0.4567, "45.7%"), (None, "–")])
def test_the_table_never_prints_1_000_where_the_case_says_over_99_9_percent(p, shown):
    """Issue #29 leftover: the row said "1.000" beside a case saying "> 99.9%"."""
    rows = [{"file": "a.png", results_table.P_COLUMN: p, "label": "PNEUMONIA"}]
    screen = results_table.screen_rows(rows)
    assert screen[0][results_table.P_COLUMN] == shown == format_probability(p)
    assert rows[0][results_table.P_COLUMN] == p  # the rows the CSV writes keep the number
