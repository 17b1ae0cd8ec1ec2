"""The command line grouped the way people meet it: reading at the top, `site` and `dev`
below, and every flat name of the previous release still running the same command."""
import contextlib
import io

import pytest

from pneumo_core.cli.groups import GROUPS, PLACES
from pneumo_core.cli.main import main


def _help(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--help"]) == 0
    return out.getvalue()


def _options(text: str) -> list[str]:
    return [line.split()[0] for line in text.split("options:", 1)[1].splitlines() if line.strip().startswith("-")]


@pytest.mark.parametrize("flat", sorted(PLACES))
def test_a_flat_name_of_the_last_release_takes_the_same_options_as_its_grouped_command(flat):
    group, name = PLACES[flat]
    assert _options(_help(flat)) == _options(_help(group, name))


def test_the_top_level_help_lists_reading_commands_then_the_groups_and_hides_the_old_names():
    text = _help()
    section = text.split("positional arguments:", 1)[1].split("options:")[0]
    listed = [line.split()[0] for line in section.splitlines() if line.startswith("    ") and line[4] != " "]
    assert listed == ["serve", "listen", "predict", "drift", "models", "verify", "audit", *GROUPS]
    assert "usage: python -m pneumo_core [-h] COMMAND ..." in text  # no list of every name, old ones included


def test_models_old_site_switch_prints_the_same_table_as_table_site():
    a, b = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(a):
        main(["models", "--markdown", "--site"])
    with contextlib.redirect_stdout(b):
        main(["models", "--markdown", "--table", "site"])
    assert a.getvalue() == b.getvalue() and "labelled films from the site" in a.getvalue()


def test_site_adapt_refuses_an_unknown_method_in_one_line_before_reading_a_film(tmp_path, capsys):
    assert main(["site", "adapt", "--method", "nope", "--out", str(tmp_path / "p.json"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown adaptation method 'nope'" in err[0] and "bn-last48-weighted" in err[0]
    assert not (tmp_path / "p.json").exists()
