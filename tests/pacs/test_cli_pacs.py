"""`python -m pneumo_core predict --dicomweb URL (--study UID | --accession ACC) [--store-report]`
against a real Orthanc: the predict contract per instance, exit codes, and no credential in
any output."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from .orthanc_server import PASSWORD

from conftest import REPO
from pneumo_core.cli import main

KEYS = ["file", "status", "probability", "label", "threshold", "model", "warnings", "error"]


def _run(capsys, *args: str) -> tuple[int, list[dict], list[str]]:
    code = main(["predict", "--quiet", *args])
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    return code, [json.loads(line) for line in out.splitlines()], err.strip().splitlines()


def test_a_study_by_accession_prints_one_contract_line_per_image_instance(orthanc, loaded):
    env = dict(os.environ, PNEUMO_DICOMWEB_USER="scorer", PNEUMO_DICOMWEB_PASSWORD=PASSWORD)
    env.pop("PNEUMO_DICOMWEB_TOKEN", None)
    proc = subprocess.run([sys.executable, "-m", "pneumo_core", "predict", "--quiet", "--dicomweb", orthanc.url,
                           "--accession", "ACC-1001"], capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    by_sop = {rec["file"].rsplit("/", 1)[1]: rec for rec in lines}
    assert len(lines) == 4 and all(list(rec) == KEYS for rec in lines)
    assert all(rec["file"].startswith(f"dicomweb:{loaded.a.uid}/") for rec in lines)
    for kind in ("mono2", "mono1", "jpeg"):
        assert by_sop[loaded.sop[kind]]["label"] in ("NORMAL", "PNEUMONIA")
    assert by_sop[loaded.sop["hand"]]["probability"] is None
    assert by_sop[loaded.sop["hand"]]["warnings"][0].startswith("not assessed: DICOM body part is HAND")


def test_an_unreadable_instance_is_an_error_line_the_rest_go_on_and_exit_1(capsys, orthanc, loaded, dicomweb_env):
    code, lines, _ = _run(capsys, "--dicomweb", orthanc.url, "--study", loaded.b.uid)
    by_sop = {rec["file"].rsplit("/", 1)[1]: rec for rec in lines}
    assert code == 1 and len(lines) == 2
    assert by_sop[loaded.sop["b_broken"]]["error"] and by_sop[loaded.sop["b_broken"]]["probability"] is None
    assert by_sop[loaded.sop["b_good"]]["probability"] is not None


def test_store_report_names_the_stored_instance_in_the_same_study(capsys, orthanc, loaded, dicomweb_env, client):
    code, lines, _ = _run(capsys, "--dicomweb", orthanc.url, "--study", loaded.c.uid, "--store-report")
    assert code == 0 and len(lines) == 1 and list(lines[0]) == KEYS + ["report"]
    study, series, sop = lines[0]["report"].removeprefix("dicomweb:").split("/")
    stored = {r.sop_uid: r for r in client.instances(loaded.c.uid)}[sop]
    assert study == loaded.c.uid and stored.series_uid == series and stored.modality == "DOC"


def test_a_stopped_server_is_one_error_line_and_exit_2(capsys, stopped_url, dicomweb_env):
    code, lines, err = _run(capsys, "--dicomweb", stopped_url, "--accession", "ACC-1001")
    assert (code, lines, len(err)) == (2, [], 1) and err[0].startswith("error: cannot reach the PACS")


def test_a_wrong_password_is_one_error_line_exit_2_and_never_printed(capsys, orthanc, loaded, monkeypatch):
    monkeypatch.delenv("PNEUMO_DICOMWEB_TOKEN", raising=False)
    monkeypatch.setenv("PNEUMO_DICOMWEB_USER", "scorer")
    monkeypatch.setenv("PNEUMO_DICOMWEB_PASSWORD", "not-the-Pa55word")
    code, lines, err = _run(capsys, "--dicomweb", orthanc.url, "--accession", "ACC-1001")
    assert (code, lines, len(err)) == (2, [], 1) and "refused the credentials" in err[0]
    assert "not-the-Pa55word" not in err[0]


def test_an_accession_the_pacs_does_not_hold_is_exit_2(capsys, orthanc, loaded, dicomweb_env):
    code, lines, err = _run(capsys, "--dicomweb", orthanc.url, "--accession", "NO-SUCH")
    assert (code, lines, len(err)) == (2, [], 1) and "no study" in err[0]


def test_credentials_in_the_url_are_refused_and_not_echoed(capsys, orthanc, dicomweb_env):
    url = orthanc.url.replace("http://", "http://scorer:hunter2@")
    code, lines, err = _run(capsys, "--dicomweb", url, "--accession", "ACC-1001")
    assert (code, lines, len(err)) == (2, [], 1) and "hunter2" not in err[0]


def test_study_and_accession_together_are_a_usage_error(capsys, orthanc, dicomweb_env):
    code, _, err = _run(capsys, "--dicomweb", orthanc.url, "--accession", "A", "--study", "1.2")
    assert code == 2 and "exactly one" in err[0]
