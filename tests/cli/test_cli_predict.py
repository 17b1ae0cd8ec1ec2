"""The `predict` command's output is a contract other tools parse: keys, error lines, exit codes."""
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

KEYS = ["file", "status", "probability", "label", "threshold", "model", "warnings", "error"]


def _predict(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pneumo_core", "predict", "--quiet", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, test_images):
    d = tmp_path_factory.mktemp("scan")
    (d / "sub").mkdir()
    (d / "a.jpeg").write_bytes(test_images["NORMAL"][0].read_bytes())
    (d / "sub" / "b.jpeg").write_bytes(test_images["PNEUMONIA"][0].read_bytes())
    return d


def test_every_file_gets_one_line_with_exactly_the_contract_keys(folder):
    r = _predict(str(folder))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [sorted(d) for d in lines] == [sorted(KEYS)] * 2
    assert {d["file"].split("/")[-1] for d in lines} == {"a.jpeg", "b.jpeg"}  # recursive scan
    for d in lines:
        assert 0.0 <= d["probability"] <= 1.0 and d["label"] in ("NORMAL", "PNEUMONIA")
        assert d["error"] is None and isinstance(d["warnings"], list) and d["model"] == "efficientnet_lite0"
        assert d["label"] == ("PNEUMONIA" if d["probability"] >= d["threshold"] else "NORMAL")


def test_corrupt_file_gets_an_error_line_and_the_rest_are_scored(folder, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    r = _predict(str(folder / "a.jpeg"), str(bad), str(folder / "sub" / "b.jpeg"))
    assert r.returncode == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["file"].split("/")[-1] for d in lines] == ["a.jpeg", "broken.png", "b.jpeg"]  # input order kept
    assert lines[1]["probability"] is None and lines[1]["label"] is None
    assert lines[1]["error"] and "\n" not in lines[1]["error"]
    assert lines[0]["probability"] is not None and lines[2]["probability"] is not None


@pytest.mark.parametrize("args", [[], ["--model", "no_such_model", "x.png"], ["--threshold", "1.5", "x.png"],
                                  ["--threshold", "lenient", "x.png"]])
def test_usage_errors_exit_2(args):
    r = _predict(*args)
    assert r.returncode == 2 and r.stdout == ""


def test_named_and_numeric_thresholds(folder):
    meta = json.loads((REPO / "weights" / "paper_cnn" / "model.json").read_text())
    r = _predict("--model", "paper_cnn", "--threshold", "screening", str(folder / "a.jpeg"))
    assert json.loads(r.stdout)["threshold"] == pytest.approx(meta["thresholds"]["screening"])
    r = _predict("--threshold", "0.999", str(folder / "a.jpeg"))
    assert json.loads(r.stdout)["threshold"] == 0.999


def test_csv_format_has_a_header_and_one_row_per_file(folder):
    r = _predict("--format", "csv", str(folder))
    rows = r.stdout.splitlines()
    assert rows[0] == ",".join(KEYS) and len(rows) == 3


def test_folder_scan_skips_hidden_folders_and_non_images(tmp_path, test_images):
    """`predict repo/` must not walk .git or score README files as broken images."""
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / ".git" / "objects" / "ab12").write_bytes(b"blob")
    (tmp_path / "README.txt").write_text("notes")
    (tmp_path / "x.jpeg").write_bytes(test_images["NORMAL"][1].read_bytes())
    r = _predict(str(tmp_path))
    assert r.returncode == 0, r.stdout
    assert [json.loads(line)["file"].split("/")[-1] for line in r.stdout.splitlines()] == ["x.jpeg"]
    assert "skipped 1 file(s) without an image extension" in r.stderr  # README.txt; .git is not counted


def test_a_folder_with_nothing_to_score_is_said_not_silently_passed(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    r = _predict(str(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    assert "no image files found" in r.stderr and "nothing to score" in r.stderr


def test_non_positive_batch_size_is_a_usage_error(folder):
    assert _predict("--batch-size", "0", str(folder)).returncode == 2


def test_csv_keeps_a_formula_like_file_name_as_text(tmp_path, test_images):
    (tmp_path / "=HYPERLINK(1).jpeg").write_bytes(test_images["NORMAL"][0].read_bytes())
    r = subprocess.run([sys.executable, "-m", "pneumo_core", "predict", "--quiet", "--format", "csv", "=HYPERLINK(1).jpeg"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith("'=HYPERLINK(1).jpeg,")


def test_each_scored_film_is_audited_under_the_cli_user_by_the_sha256_of_its_bytes(folder, audit_trail_in_a_temporary_file):
    import hashlib

    from pneumo_core.audit import AuditLog
    before = sum(1 for _ in AuditLog(audit_trail_in_a_temporary_file).records())
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    r = _predict(*map(str, files))
    assert r.returncode in (0, 1), r.stderr
    new = list(AuditLog(audit_trail_in_a_temporary_file).records())[before:]
    assert [x["action"] for x in new] == ["score"] * len(files) and all(x["user"].startswith("cli:") for x in new)
    assert {x["ids"]["sha256"] for x in new} == {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    text = audit_trail_in_a_temporary_file.read_text()
    assert not any(p.name in text for p in files) and str(folder) not in text  # no name, no path
