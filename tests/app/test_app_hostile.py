"""Hostile uploads on the Diagnose page, driven headless by AppTest: a bomb in the middle of
a batch is one "not scored" row in our words and the other films are scored; files beyond the
session's upload budget are not read and a warning says so; no row names a case by its file
name unless asked."""
from __future__ import annotations

import pytest

from pneumo_core.app.runtime import paths
from pneumo_core.io import sandbox
from pneumo_core.io.budget import UploadBudget

from conftest import results_table, run_app
from harness import hostile_files as hf



def _examples() -> list[tuple[str, bytes, str]]:
    return [(p.name, p.read_bytes(), "image/jpeg") for p in paths.example_files()[:2]]


@pytest.fixture
def tight_pool(monkeypatch):
    pool = sandbox.DecodePool(workers=1, memory_bytes=400 * 2**20)  # a 49-megapixel film is too much for it
    monkeypatch.setattr(sandbox, "_DEFAULT", pool)
    yield pool
    pool.close()


def test_a_bomb_in_the_middle_of_an_upload_is_one_line_and_the_other_films_are_scored(tight_pool):
    first, last = _examples()
    at = run_app()
    at.file_uploader[0].set_value([first, (hf.PATIENT + ".png", hf.png(7001), "image/png"),
                                   ("scan.dcm", hf.j2k_bomb_dicom(claim=16001), "application/dicom"), last]).run()
    assert not at.exception
    table = results_table(at).value
    assert list(table["label"].isin(["NORMAL", "PNEUMONIA"])) == [True, False, False, True]
    errors = list(table["warnings / error"])[1:3]
    assert errors[0] == "ERROR: not enough memory to decode this image"
    assert errors[1].startswith("ERROR: image too large (16001x16001 px")
    assert not any("SMITH" in str(c) for c in table["case"]) and not any("SMITH" in e for e in errors)


def test_files_beyond_the_session_budget_are_not_read_and_a_warning_says_so():
    at = run_app(_upload_budget=UploadBudget(max_files=1))
    at.file_uploader[0].set_value(_examples()).run()
    assert not at.exception
    assert len(results_table(at).value) == 1
    assert any(w.value.startswith("Upload limit reached") for w in at.warning)
