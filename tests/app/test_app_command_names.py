"""The commands the pages tell a user to type are named as `python -m pneumo_core --help` lists
them (`site study`, `dev evaluate`), never by the flat names of the previous release, which
still run but are listed nowhere (`cli.groups.PLACES`)."""
from __future__ import annotations

import re
from pathlib import Path

from pneumo_core.cli.groups import GROUPS, PLACES

REPO = Path(__file__).resolve().parents[2]
# the pages and the app code that writes their text
SOURCES = sorted([*(REPO / "pages").glob("*.py"), *(REPO / "pneumo_core" / "app").rglob("*.py")])
COMMAND = re.compile(r"(?:python -m pneumo_core|`pneumo) ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")


def _named() -> list[tuple[str, str, str | None]]:
    """(file, command, its second word) for each command the app's text names."""
    return [(source.name, *m.groups()) for source in SOURCES for m in COMMAND.finditer(source.read_text())]


def test_the_pages_name_no_flat_command_of_the_previous_release():
    named = _named()
    assert {"calibrate_site.py", "model_card.py", "calibration_choice.py"} <= {f for f, _, _ in named}  # they name commands
    assert [n for n in named if n[1] in PLACES] == []


def test_each_grouped_command_a_page_names_is_in_its_group():
    grouped = [(group, name) for _, group, name in _named() if group in GROUPS]
    assert ("site", "study") in grouped
    assert [g for g in grouped if g not in PLACES.values()] == []
