"""Tests for pneumo_core.io.home: the one place that says where the product's files are, and
where what it writes goes. Each test names the failure it guards against."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pneumo_core.io import home

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "pneumo_core"


@pytest.fixture
def no_chosen_home(monkeypatch):
    monkeypatch.delenv(home.ENV_HOME, raising=False)


@pytest.fixture
def packaged(monkeypatch, tmp_path, no_chosen_home):
    """A package whose wheel placed the product's files in its _home/."""
    (tmp_path / "pneumo_core" / home.PACKAGED).mkdir(parents=True)
    monkeypatch.setattr(home, "_package_dir", lambda: tmp_path / "pneumo_core")
    return tmp_path / "pneumo_core" / home.PACKAGED


def test_a_chosen_home_wins_over_the_packaged_copy(monkeypatch, tmp_path, packaged):
    chosen = tmp_path / "site-weights"
    chosen.mkdir()
    monkeypatch.setenv(home.ENV_HOME, str(chosen))
    assert home.home() == chosen.resolve()


def test_a_chosen_home_that_is_no_folder_is_refused_not_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv(home.ENV_HOME, str(tmp_path / "typo"))
    with pytest.raises(home.HomeError, match="PNEUMO_HOME"):
        home.home()


def test_an_installed_wheel_finds_its_own_copy_with_nothing_set(packaged):
    assert home.home() == packaged.resolve()


def test_an_editable_install_finds_its_checkout_from_pips_record(monkeypatch, tmp_path, no_chosen_home):
    monkeypatch.setattr(home, "_package_dir", lambda: tmp_path / "checkout" / "pneumo_core")
    monkeypatch.setattr(home, "_editable_project", lambda: tmp_path / "checkout")
    assert home.home() == tmp_path / "checkout"


def test_no_home_anywhere_is_one_clear_error_naming_pneumo_home(monkeypatch, tmp_path, no_chosen_home):
    monkeypatch.setattr(home, "_package_dir", lambda: tmp_path / "pneumo_core")
    monkeypatch.setattr(home, "_editable_project", lambda: None)
    with pytest.raises(home.HomeError, match="set PNEUMO_HOME"):
        home.home()


def test_the_checkouts_editable_record_names_this_checkout():
    """make run and make test install the checkout editable; pip's record of it leads back here."""
    home._editable_project.cache_clear()
    assert home._editable_project() == REPO


def test_what_the_product_writes_stays_out_of_site_packages(monkeypatch, tmp_path, packaged):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert home.state_dir() == tmp_path / "state" / "pneumo"
    assert packaged not in home.state_dir().parents


def test_a_chosen_home_keeps_its_state_in_its_own_var(monkeypatch, tmp_path):
    monkeypatch.setenv(home.ENV_HOME, str(tmp_path))
    assert home.state_dir() == tmp_path.resolve() / "var"


def test_the_default_audit_trail_lies_in_the_state_folder(monkeypatch, tmp_path, packaged):
    from pneumo_core.audit import default_path
    monkeypatch.delenv("PNEUMO_AUDIT_LOG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_path() == tmp_path / "state" / "pneumo" / "audit.jsonl"


# `__file__` in the library: only where the code itself is meant, never the product's files
CODE_LOCATIONS = {"io/sandbox.py": "the worker imports this same code", "audit/anchor.py": "a log record's source"}


def test_no_module_finds_the_products_files_by_walking_up_from_its_source():
    uses = sorted(p.relative_to(CORE).as_posix() for p in CORE.rglob("*.py")
                  if any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(ast.parse(p.read_text()))))
    assert set(uses) <= set(CODE_LOCATIONS), f"{sorted(set(uses) - set(CODE_LOCATIONS))} locate files from __file__"
