"""CSV cells that stay data when a clinician opens the file in a spreadsheet."""
from __future__ import annotations

__all__ = ["csv_cell"]


def csv_cell(v: object) -> object:
    """A file name like "=HYPERLINK(...)" must stay text (formula injection); floats get a
    fixed precision; None is an empty cell."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    if isinstance(v, float):
        return f"{v:.6f}"
    return "" if v is None else v
