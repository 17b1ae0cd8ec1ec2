"""docs/site-adaptation.md says what the studies' records say: its tables are the tables
script's output (run as a command), and the figures its prose quotes are the records'."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "site-adaptation.md").read_text()
WEIGHTS = REPO / "weights" / "efficientnet_lite0"


def _block(name: str) -> str:
    m = re.search(rf"<!-- {name}: (python [^>]*?) -->\n(.*?)\n<!-- /{name} -->", DOC, re.S)
    assert m, name
    return m.group(1), m.group(2).strip()


@pytest.mark.parametrize("name", ["adaptation-tables", "normalisation-tables"])
def test_the_docs_tables_are_the_scripts_output_on_the_records(name):
    command, table = _block(name)
    out = subprocess.run([sys.executable, *command.split()[1:]], cwd=REPO, capture_output=True, text=True, check=True)
    assert table == out.stdout.strip(), f"docs/site-adaptation.md is stale: paste `{command}`"


def test_the_quoted_test_specificities_are_the_records():
    t = json.loads((WEIGHTS / "adapt_study_test.json").read_text())["summary"]["clean"]
    fitted = next(m for m in t["0.1"] if m != "none")
    spec = {p: t[p][fitted]["specificity"]["mean"] for p in t}
    assert f"0.{round(spec['0.1'] * 100):02d} at 10%, 0.{round(spec['0.5'] * 100):02d} at 50% and 90%" in DOC
    assert round(spec["0.5"], 2) == round(spec["0.9"], 2)
    none = [t[p]["none"]["specificity"]["mean"] for p in t]
    assert all(round(v, 2) == 0.62 for v in none) and "against 0.62 with the\n  model's own threshold" in DOC


def test_the_docs_name_the_method_the_rule_chose_and_its_round():
    v = json.loads((WEIGHTS / "adapt_study_val.json").read_text())
    assert f"tie-break chose `{v['chosen']}`" in DOC
    assert f"({v['wall_seconds']:.0f} s on 2 CPU cores for round 2" in DOC
    t = json.loads((WEIGHTS / "adapt_study_test.json").read_text())
    assert f"({t['wall_seconds']:.0f} s on 2 CPU cores, recorded" in DOC
