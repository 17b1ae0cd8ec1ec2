"""docs/saliency.md's shortcut-check section says what the code and the study's record say:
its tables are `benchmarks/marker_study.py --table-only` on the record, and the detector's
settings it names are the detector's."""
import re
import subprocess
import sys
from pathlib import Path

from pneumo_core.inference import markers, shortcut
from pneumo_core.reporting.region_check import NEGLIGIBLE_LOGIT

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "saliency.md").read_text()
SECTION = DOC.split("## The shortcut check beside each heatmap")[1].split("\n## ")[0]


def test_the_docs_marker_tables_are_the_scripts_output_on_the_record():
    m = re.search(r"<!-- marker-tables: (python [^>]*?) -->\n(.*?)\n<!-- /marker-tables -->", DOC, re.S)
    assert m, "no marker tables in docs/saliency.md"
    command, table = m.group(1), m.group(2).strip()
    out = subprocess.run([sys.executable, *command.split()[1:]], cwd=REPO, capture_output=True, text=True, check=True)
    assert table == out.stdout.strip(), f"docs/saliency.md is stale: paste `{command}`"


def test_the_detector_and_check_settings_the_docs_name_are_the_codes():
    flat = " ".join(SECTION.split())
    assert f"at least {markers.MIN_CONTRAST} grey levels above a {markers.OPENING}-px grey opening" in flat
    assert f"at least {markers.MIN_BRIGHT} bright" in flat
    assert f"letter-sized ({markers.MIN_SIDE}-{markers.MAX_SIDE} px at {markers.REFERENCE_SIDE})" in flat
    assert f"at least {markers.MIN_STROKE} grey levels above a 3x3 opening" in flat
    assert f"outer {markers.BAND:.0%} of the film" in flat
    assert f"hottest cell of the {shortcut.GRID}x{shortcut.GRID} grid" in flat
    assert f"more than {NEGLIGIBLE_LOGIT}" in flat


def test_the_figures_the_prose_quotes_are_the_records():
    import json
    m = json.loads((REPO / "benchmarks" / "results" / "marker_study_val.json").read_text())["models"]["efficientnet_lite0"]
    flat = " ".join(SECTION.split())
    top, moved, control = m["top_cell"], m["markers_removed"], m["control_removed"]
    assert f"all {m['films']} of its {m['validation_films']} validation films" in flat
    assert f"({top['PNEUMONIA']['on_marker']} of {top['PNEUMONIA']['films']})" in flat
    assert f"on none of the {top['NORMAL']['films']} NORMAL calls" in flat and top["NORMAL"]["on_marker"] == 0
    assert f"warns on {top['all']['either']} of the {m['films']} films" in flat
    assert f"lowers the called class's logit by {-moved['mean_towards_call']:.2f} on average" in flat
    assert (f"({moved['mean_abs']:.2f} mean absolute move, {moved['median_abs']:.2f} median, "
            f"{moved['max_abs']:.2f} at most)") in flat
    assert f"a mean absolute move of {control['mean_abs']:.2f} for the mirrored control" in flat
    assert (f"it turned {moved['calls_flipped']} of the {moved['films']} calls on films with a marker, and the "
            f"control {control['calls_flipped']}") in flat
    fill = m["flagged_fill"]
    assert f"On the {fill['films']} flagged films" in flat and fill["films"] == top["all"]["either"]
    assert f"by more than 0.1 on {fill['outcomes']['moves']} and turned no call" in flat
    assert fill["outcomes"]["flips"] == 0
