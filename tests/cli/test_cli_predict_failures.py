"""`predict` when something goes wrong (issue #27): a float film costs only its own line; a
heatmap or a report that fails is a warning on its film's line; no result is printed before its
audit record is written, and a trail that cannot be written stops the command in one line; a
refused 2 GB file is never read, not even to hash it."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from pneumo_core.audit import AuditLog
from pneumo_core.io.limits import NON_FINITE

from harness import hostile_files as hf


def _predict(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pneumo_core", "predict", "--quiet", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def _in_process(*args: str) -> tuple[int, list[dict], str]:
    """`predict` through the command line's own entry point, in this process (so a test can
    break one piece of it): exit code, the JSON lines, stderr."""
    from pneumo_core.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["predict", "--quiet", *args])
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.fixture(scope="module")
def float_folder(tmp_path_factory, test_images):
    d = tmp_path_factory.mktemp("floats")
    (d / "a.jpeg").write_bytes(test_images["NORMAL"][0].read_bytes())
    (d / "b-infinity.dcm").write_bytes(hf.float_dicom_with_infinity())
    (d / "c-extreme.tif").write_bytes(hf.extreme_float_tiff())
    (d / "d.jpeg").write_bytes(test_images["PNEUMONIA"][0].read_bytes())
    return d


def test_a_float_dicom_with_infinity_and_a_float_tiff_to_3e38_cost_only_their_own_lines(float_folder):
    """Regression: the folder printed 0 of its 4 lines."""
    r = _predict(str(float_folder))
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 1, r.stderr
    assert [rec["status"] for rec in lines] == ["scored", "error", "not_assessed", "scored"]
    assert lines[1]["error"] == NON_FINITE
    assert lines[2]["error"] is None and "Traceback" not in r.stderr


def test_an_unwritable_audit_trail_refuses_to_start_in_one_line(float_folder, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = _predict(str(float_folder), env={"PNEUMO_AUDIT_LOG": str(blocker / "audit.jsonl")})
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith(f"error: the audit trail {blocker / 'audit.jsonl'} cannot be written")


def test_a_trail_on_a_device_that_refuses_writes_is_refused_before_any_film_is_scored(float_folder):
    """Regression: the first film's line was printed, then a traceback. /dev/full opens for
    appending and refuses every write, as a full disk does; it is no regular file, so no record
    could be read back to chain to, and the command refuses it as the launcher does."""
    r = _predict(str(float_folder), env={"PNEUMO_AUDIT_LOG": "/dev/full"})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["error: the audit trail /dev/full cannot be written (it is not a regular file); "
                                     "set PNEUMO_AUDIT_LOG to a writable file; nothing was scored"]


def test_the_lines_printed_are_exactly_the_films_recorded_when_the_trail_fails_midway(
        float_folder, audit_trail_in_a_temporary_file, monkeypatch, one_torch_thread):
    real, calls = AuditLog.append, []

    def append(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)
    monkeypatch.setattr(AuditLog, "append", append)
    before = sum(1 for _ in AuditLog(audit_trail_in_a_temporary_file).records())
    code, lines, err = _in_process(str(float_folder))
    recorded = list(AuditLog(audit_trail_in_a_temporary_file).records())[before:]
    assert code == 2 and len(lines) == len(recorded) == 2
    assert [r["ids"]["outcome"] for r in recorded] == [line["status"] for line in lines]
    assert err.splitlines()[-1].endswith("stopped after 2 result(s), the rest were not printed")


def test_a_heatmap_that_fails_on_one_film_is_a_warning_on_its_line(float_folder, tmp_path, monkeypatch,
                                                                    one_torch_thread):
    from pneumo_core.inference import saliency
    real = saliency.CamWriter.write

    def write(self, pred):
        if pred.file.endswith("a.jpeg"):
            raise RuntimeError(hf.PATIENT)
        return real(self, pred)
    monkeypatch.setattr(saliency.CamWriter, "write", write)
    code, lines, _ = _in_process(str(float_folder / "a.jpeg"), str(float_folder / "d.jpeg"), "--cam",
                                 str(tmp_path / "cams"))
    assert code == 0 and [line["status"] for line in lines] == ["scored", "scored"]
    assert lines[0]["cam"] is None and lines[0]["warnings"] == ["heatmap not written (RuntimeError)"]
    assert lines[1]["cam"] is not None


def test_a_report_that_fails_to_render_on_one_instance_is_a_warning_on_its_line(float_folder, monkeypatch,
                                                                                one_torch_thread):
    """A PACS study under --store-report: rendering one report raises something unforeseen;
    that instance's line says so, and the next instance is still scored and stored."""
    from pneumo_core.cli import pacs

    class Job:
        keys, failures = ["report"], 0
        total = 2

        def predictions(self, predictor, threshold, batch_size):
            return predictor.predict_sources([(float_folder / "a.jpeg", "dicomweb:1/2/3"),
                                              (float_folder / "d.jpeg", "dicomweb:1/2/4")], threshold)

        def extra(self, pred):
            if pred.file.endswith("/3"):
                raise TypeError(hf.PATIENT)
            return {"report": "dicomweb:1/9/9"}
    monkeypatch.setattr(pacs, "open_job", lambda args: Job())
    code, lines, _ = _in_process("--dicomweb", "https://pacs.invalid", "--study", "1")
    assert code == 1
    assert [line["report"] for line in lines] == [None, "dicomweb:1/9/9"]
    assert lines[0]["warnings"] == ["report not stored (TypeError)"] and lines[1]["status"] == "scored"


def test_a_refused_2gb_file_is_never_read_not_even_to_hash_it(tmp_path, test_images, audit_trail_in_a_temporary_file):
    """Regression: the audit hash read the refused file whole (2.6 GB peak, 0.6 GB for a small
    file). The command's peak is measured from a parent that runs nothing else."""
    big = tmp_path / "big.dcm"
    with open(big, "wb") as fh:  # sparse: no disk used, and 2 GB if read
        fh.truncate(2 * 2**30)
    small = tmp_path / "small.jpeg"
    small.write_bytes(test_images["NORMAL"][0].read_bytes())
    before = sum(1 for _ in AuditLog(audit_trail_in_a_temporary_file).records())
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run([sys.executable, '-m', 'pneumo_core', 'predict', '--quiet', *sys.argv[1:]],"
             " capture_output=True, text=True)\n"
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
             "print(r.stdout, end='')")
    run = subprocess.run([sys.executable, "-c", probe, str(big), str(small)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    head, *lines = run.stdout.splitlines()
    code, peak_mb = map(int, head.split())
    records = [json.loads(line) for line in lines]
    assert code == 1 and records[0]["error"] == "file too large (limit is 256 MB)"
    assert records[1]["status"] == "scored"
    assert peak_mb < 1200, f"peak {peak_mb} MB: the refused file was read"
    recorded = list(AuditLog(audit_trail_in_a_temporary_file).records())[before:]
    assert [("sha256" in r["ids"], r["ids"]["outcome"]) for r in recorded] == [(False, "error"), (True, "scored")]
