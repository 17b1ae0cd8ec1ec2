"""Whose film this is, as a PACS viewer tells the reader: patient name and ID, sex, age or birth
date, study date, accession number and view, read from a DICOM header.

These are the patient's identifiers, so they travel apart from `Radiograph.metadata` (the
non-identifying fields, which reach reports and tables): the app shows them on screen, and
prints them in a report or a table only when the reader asks. Nothing here logs or raises
with a value. Each value is plain text: control characters dropped, whitespace collapsed,
cut to `MAX_CHARS`, because a crafted file can put anything in any element; the screen still
escapes it (`app.reading.identity`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any, Mapping

__all__ = ["FilmIdentity", "MAX_CHARS", "read_identity"]

MAX_CHARS = 64  # the longest DICOM string these elements allow (LO); a person's name (PN) is 64 a component group
_TAGS = {"patient_name": "PatientName", "patient_id": "PatientID", "sex": "PatientSex", "age": "PatientAge",
         "birth_date": "PatientBirthDate", "study_date": "StudyDate", "accession": "AccessionNumber",
         "view": "ViewPosition"}
_AGE = re.compile(r"(\d{3})([DWMY])")
_AGE_UNITS = {"D": "d", "W": "w", "M": "mo", "Y": "y"}
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SEP = " · "


def _plain(value: Any) -> str:
    """One line of printable text, at most `MAX_CHARS` long."""
    text = "".join(c if not unicodedata.category(c).startswith("C") else " " for c in str(value))
    return " ".join(text.split())[:MAX_CHARS]


def _person(value: str) -> str:
    """A DICOM person name ("DOE^JANE^^DR", alphabetic group first) as "DOE, JANE DR"."""
    family, _, rest = value.split("=")[0].partition("^")
    given = " ".join(p for p in rest.split("^") if p.strip())
    return f"{family.strip()}, {given}" if family.strip() and given else (family.strip() or given)


def _date(value: str) -> str:
    m = _DATE.fullmatch(value)
    return f"{m[1]}-{m[2]}-{m[3]}" if m else value


def _age(value: str) -> str:
    m = _AGE.fullmatch(value)
    return f"{int(m[1])} {_AGE_UNITS[m[2]]}" if m else value


def _age_at(birth: str, study: str) -> str:
    """Whole years at the study ("4 y"), months under two ("7 mo"); "" when a date is missing."""
    try:
        born, seen = date.fromisoformat(birth), date.fromisoformat(study)
    except ValueError:
        return ""
    months = (seen.year - born.year) * 12 + seen.month - born.month - (seen.day < born.day)
    if months < 0:
        return ""
    return f"{months} mo" if months < 24 else f"{months // 12} y"


@dataclass(frozen=True)
class FilmIdentity:
    """The identifying header fields of one film, as plain bounded strings ("" when absent).
    Its repr withholds the values, so a logged or printed result never carries them."""
    patient_name: str = ""
    patient_id: str = ""
    sex: str = ""
    age: str = ""          # "5 y", "7 mo" (the header's age string, read)
    birth_date: str = ""   # YYYY-MM-DD
    study_date: str = ""   # YYYY-MM-DD
    accession: str = ""
    view: str = ""         # PA, AP, LL, ...

    def __post_init__(self) -> None:
        for f in fields(self):  # bounded however it was built: from a header, the worker's reply or a test
            object.__setattr__(self, f.name, _plain(getattr(self, f.name)))

    def __repr__(self) -> str:
        return "FilmIdentity(<withheld>)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    @property
    def title(self) -> str:
        """How the reading room names the case: "A123 · PA · 2024-01-01" (accession, view, study
        date; the patient ID stands in for a missing accession), or "" when the header has none."""
        return _SEP.join(v for v in (self.accession or self.patient_id, self.view, self.study_date) if v)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) for each field the header gave, in a PACS viewer's order; the age at
        the study from the birth date when the header gives no age."""
        age = self.age or _age_at(self.birth_date, self.study_date)
        age = f"{age} (born {self.birth_date})" if age and self.birth_date else age or (
            f"born {self.birth_date}" if self.birth_date else "")
        pairs = [("Patient", self.patient_name), ("Patient ID", self.patient_id), ("Sex", self.sex), ("Age", age),
                 ("Study date", self.study_date), ("Accession", self.accession), ("View", self.view)]
        return [(k, v) for k, v in pairs if v]

    def columns(self) -> dict[str, str]:
        """A table's columns, the same keys for every film ("" where absent)."""
        return {"patient name": self.patient_name, "patient ID": self.patient_id, "sex": self.sex, "age": self.age,
                "birth date": self.birth_date, "study date": self.study_date, "accession (header)": self.accession,
                "view": self.view}

    def to_wire(self) -> dict[str, str]:
        """For the decode worker's JSON reply."""
        return asdict(self)

    @classmethod
    def from_wire(cls, data: Any) -> FilmIdentity | None:
        """The worker's reply, trusted no further than its shape: known keys, string values."""
        if not isinstance(data, Mapping):
            return None
        known = {f.name for f in fields(cls)}
        found = cls(**{k: v for k, v in data.items() if k in known and isinstance(v, str)})
        return found or None


def read_identity(ds: Any) -> FilmIdentity | None:
    """The identifying fields of a pydicom dataset, or None when it has none. An element that
    cannot be read (a bad character set, a wrong type) is left out, never quoted."""
    values = {}
    for name, keyword in _TAGS.items():
        try:
            value = ds.get(keyword)
            text = "" if value is None else _plain(value)
        except Exception:  # noqa: BLE001 - a crafted element must not stop the film being read
            continue
        values[name] = (_person(text) if name == "patient_name" else _date(text) if name.endswith("date")
                        else _age(text) if name == "age" else text)
    return FilmIdentity(**values) or None
