"""What this tool sends to a PACS, checked before any URL is built.

- UIDs follow the DICOM grammar (PS3.5 9.1): components of digits, no leading zero except
  a lone "0", dots between, at most 64 characters. A UID is put into a URL path (WADO-RS,
  STOW-RS), and `requests` resolves `../`, so a hostile UID from the PACS or the user could aim
  an authenticated request elsewhere on the PACS host; only digits and dots can pass.
- A search names one study, never a crowd: an exact accession number (no DICOM wildcard `*`
  or `?`, no multi-value `\\`: letters, digits and `. - _ / + #` only, at most 16 characters
  as the SH value representation allows) or a study date range of at most `MAX_SEARCH_DAYS`
  days. An empty search or a wildcard would list every chest film on the server.

Refusals (`PacsRefused`) never repeat the value refused: it may be hostile or a patient's.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from .errors import PacsRefused

__all__ = ["MAX_UID_CHARS", "MAX_ACCESSION_CHARS", "MAX_SEARCH_DAYS", "is_uid", "check_uid", "check_accession",
           "check_dates", "check_modality"]

MAX_UID_CHARS = 64
MAX_ACCESSION_CHARS = 16  # the SH value representation
MAX_SEARCH_DAYS = 7  # a day, or a week at most: enough to find a study, too few to list the archive
_UID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
_ACCESSION = re.compile(r"[A-Za-z0-9._/+#-]+")
_MODALITY = re.compile(r"[A-Z0-9]{1,16}")


def is_uid(text: object) -> bool:
    """True for a DICOM UID (see the module docstring)."""
    return isinstance(text, str) and len(text) <= MAX_UID_CHARS and _UID.fullmatch(text) is not None


def check_uid(text: object, what: str) -> str:
    """`text` when it is a valid UID, else `PacsRefused` naming `what` (e.g. "study") but not the value."""
    if not is_uid(text):
        raise PacsRefused(f"refused: the {what} UID is not a valid DICOM UID (digits and dots, at most "
                          f"{MAX_UID_CHARS} characters); no request was sent")
    return str(text)


def check_accession(text: str) -> str:
    """The accession number stripped of surrounding blanks, when it can only match exactly."""
    acc = text.strip()
    if not acc or len(acc) > MAX_ACCESSION_CHARS or _ACCESSION.fullmatch(acc) is None:
        raise PacsRefused(f"refused: an accession number is searched exactly: 1 to {MAX_ACCESSION_CHARS} letters, "
                          "digits or . - _ / + # (no wildcard * or ?, no \\)")
    return acc


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except (TypeError, ValueError):
        raise PacsRefused("refused: a study date is written YYYYMMDD") from None


def check_dates(date_from: str | None, date_to: str | None) -> tuple[str, str]:
    """(from, to) as YYYYMMDD when both are given, in order, and span at most `MAX_SEARCH_DAYS` days."""
    if not date_from or not date_to:
        raise PacsRefused(f"refused: a date search needs both ends (a day, or a range of at most "
                          f"{MAX_SEARCH_DAYS} days)")
    first, last = _day(date_from), _day(date_to)
    if last < first:
        raise PacsRefused("refused: the date range ends before it starts")
    if (last - first).days + 1 > MAX_SEARCH_DAYS:
        raise PacsRefused(f"refused: a date range covers at most {MAX_SEARCH_DAYS} days; search by accession "
                          "number or a shorter range")
    return first.strftime("%Y%m%d"), last.strftime("%Y%m%d")


def check_modality(text: str) -> str:
    """A modality code (CR, DX...): capitals and digits only, so it cannot carry a wildcard."""
    if _MODALITY.fullmatch(text) is None:
        raise PacsRefused("refused: a modality is a DICOM code such as CR or DX")
    return text
