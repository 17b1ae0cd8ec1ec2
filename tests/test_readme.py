"""The README's results table must be the one the shipped evaluations produce."""
import re

from pneumo_core.results import results_markdown

from conftest import REPO


def test_readme_results_table_matches_shipped_eval_files():
    text = (REPO / "README.md").read_text()
    table = re.search(r"<!-- results-table -->\n(.*?)\n<!-- /results-table -->", text, re.S)
    assert table, "README lost its results-table markers"
    assert table.group(1).strip() == results_markdown().strip(), \
        "README table is stale: paste `python -m pneumo_core models --markdown`"


def test_readme_starts_with_the_two_commands():
    head = (REPO / "README.md").read_text().split("```")[1]
    assert "make run" in head and "make test" in head


def test_readme_model_selection_figures_come_from_selection_json():
    """Every candidate's mean shifted-validation loss quoted in the README is the recorded one."""
    import json

    text = (REPO / "README.md").read_text()
    selection = json.loads((REPO / "weights" / "efficientnet_lite0" / "selection.json").read_text())
    for rnd in selection["rounds"]:
        assert rnd["chosen"] in rnd["candidates"]
        for name, losses in rnd["candidates"].items():
            assert f"{losses['mean']:.4f}" in text, f"README misses {name}'s mean loss {losses['mean']:.4f}"
            assert losses["mean"] >= rnd["candidates"][rnd["chosen"]]["mean"], "the rule keeps the lowest mean"
