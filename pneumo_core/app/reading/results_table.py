"""The results table as the screen shows it: each probability printed by the one formatter
(`stats.display.format_probability`), so a row never says "1.000" for the case that says
"> 99.9%". The rows themselves (`cases.result_rows`) keep the number, for the CSV."""
from __future__ import annotations

from typing import Any

import streamlit as st

from ...stats.display import format_probability

__all__ = ["P_COLUMN", "COLUMNS", "screen_rows", "column_config"]

P_COLUMN = "P(pneumonia)"
COLUMNS = ["name", P_COLUMN, "label", "warnings / error"]  # "name": `cases.case_titles`, headed "case"


def screen_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of `rows` with the probability as text, as the case view prints it ("–" for none)."""
    return [{**row, P_COLUMN: format_probability(row.get(P_COLUMN))} for row in rows]


def column_config(probability_label: str) -> dict[str, Any]:
    """The columns' headings and widths: the probability headed with its calibration."""
    return {"name": st.column_config.TextColumn("case"),
            P_COLUMN: st.column_config.TextColumn(probability_label, width="small"),
            "warnings / error": st.column_config.TextColumn(width="large")}
