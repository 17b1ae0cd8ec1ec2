"""`python -m pneumo_core predict --dicomweb URL (--study UID | --accession ACC) [--store-report]`
against a real Orthanc: the predict contract per instance, exit codes, and no credential in
any output."""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys

import pytest

from harness.orthanc_server import PASSWORD

from conftest import REPO
from pneumo_core.cli import main

KEYS = ["file", "status", "probability", "label", "threshold", "model", "warnings", "error"]


def _run(capsys, *args: str) -> tuple[int, list[dict], list[str]]:
    code = main(["predict", "--quiet", *args])
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    return code, [json.loads(line) for line in out.splitlines()], err.strip().splitlines()


def test_a_study_by_accession_prints_one_contract_line_per_image_instance(orthanc, loaded):
    env = dict(os.environ, PNEUMO_DICOMWEB_USER="scorer", PNEUMO_DICOMWEB_PASSWORD=PASSWORD,
               PNEUMO_DICOMWEB_ALLOW_HTTP="1")
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
    assert by_sop[loaded.sop["hand"]]["warnings"][0].startswith("not assessed: DICOM header: body part is HAND")


def test_an_unreadable_instance_is_an_error_line_the_rest_go_on_and_exit_1(capsys, orthanc, loaded, dicomweb_env):
    code, lines, _ = _run(capsys, "--dicomweb", orthanc.url, "--study", loaded.b.uid)
    by_sop = {rec["file"].rsplit("/", 1)[1]: rec for rec in lines}
    assert code == 1 and len(lines) == 2
    assert by_sop[loaded.sop["b_broken"]]["error"] and by_sop[loaded.sop["b_broken"]]["probability"] is None
    assert by_sop[loaded.sop["b_good"]]["probability"] is not None


def test_store_report_names_the_stored_instance_once_however_often_it_runs(capsys, orthanc, loaded, dicomweb_env,
                                                                         client, audit_records):
    args = ("--dicomweb", orthanc.url, "--study", loaded.e.uid, "--accession", "ACC-5005", "--store-report")
    code, lines, _ = _run(capsys, *args)
    assert code == 0 and len(lines) == 1 and list(lines[0]) == KEYS + ["report"]
    study, series, sop = lines[0]["report"].removeprefix("dicomweb:").split("/")
    stored = {r.sop_uid: r for r in client.instances(loaded.e.uid)}[sop]
    assert study == loaded.e.uid and stored.series_uid == series and stored.modality == "DOC"
    code, again, _ = _run(capsys, *args)
    assert code == 0 and again[0]["report"] == lines[0]["report"]
    assert "report already stored in the study; not stored again" in again[0]["warnings"]
    assert len(client.instances(loaded.e.uid)) == 4  # the film, one report, its SR and its heatmap image
    scores = [r for r in audit_records() if r["action"] == "score"]
    assert [r["ids"]["instance_uid"] for r in scores] == [loaded.sop["e_film"]] * 2  # each run scored the film
    trail = [(r["user"], r["action"], r["ids"].get("outcome")) for r in audit_records() if r["action"] != "score"]
    user = trail[0][0]
    assert user.startswith("cli:") and trail == [(user, "pacs_search", None), (user, "report_stored", "stored"),
                                                  (user, "pacs_search", None),
                                                  (user, "report_stored", "already-stored")]
    first = [r for r in audit_records() if r["action"] == "report_stored"][0]["ids"]
    assert (first["study_uid"], first["instance_uid"], first["report_uid"]) == (loaded.e.uid, loaded.sop["e_film"],
                                                                                  sop)


def test_store_report_without_the_accession_typed_is_refused_before_anything_starts(capsys, orthanc, loaded,
                                                                                    dicomweb_env, client):
    code, lines, err = _run(capsys, "--dicomweb", orthanc.url, "--study", loaded.e.uid, "--store-report")
    assert (code, lines, len(err)) == (2, [], 1) and "--store-report needs --accession" in err[0]


def test_a_study_whose_accession_is_not_the_one_typed_is_not_found_and_nothing_is_stored(capsys, orthanc, loaded,
                                                                                         dicomweb_env, client):
    before = len(client.instances(loaded.e.uid))
    code, lines, err = _run(capsys, "--dicomweb", orthanc.url, "--study", loaded.e.uid, "--accession", "ACC-1001",
                            "--store-report")
    assert (code, lines, len(err)) == (2, [], 1) and "no study" in err[0]
    assert len(client.instances(loaded.e.uid)) == before


@pytest.mark.parametrize("accession", ["*", "ACC-*", "ACC-100?", "ACC\\1001"])
def test_a_wildcard_accession_is_refused_and_recorded_as_refused(capsys, orthanc, loaded, dicomweb_env,
                                                                 audit_records, accession):
    code, lines, err = _run(capsys, "--dicomweb", orthanc.url, "--accession", accession)
    assert (code, lines, len(err)) == (2, [], 1) and err[0].startswith("error: refused: an accession number")
    assert [(r["action"], r["ids"]) for r in audit_records()] == [
        ("pacs_search", {"outcome": "refused", "server": orthanc.url.split("/")[2]})]


def test_plain_http_is_refused_unless_allowed_for_a_test_server(capsys, orthanc, loaded, dicomweb_env, monkeypatch):
    monkeypatch.delenv("PNEUMO_DICOMWEB_ALLOW_HTTP")
    code, lines, err = _run(capsys, "--dicomweb", orthanc.url, "--accession", "ACC-1001")
    assert (code, lines, len(err)) == (2, [], 1) and "refused: plain http://" in err[0]


def test_a_stopped_server_is_one_error_line_and_exit_2(capsys, stopped_url, dicomweb_env):
    code, lines, err = _run(capsys, "--dicomweb", stopped_url, "--accession", "ACC-1001")
    assert (code, lines, len(err)) == (2, [], 1) and err[0].startswith("error: cannot reach the PACS")


def test_a_wrong_password_is_one_error_line_exit_2_and_never_printed(capsys, orthanc, loaded, monkeypatch):
    monkeypatch.delenv("PNEUMO_DICOMWEB_TOKEN", raising=False)
    monkeypatch.setenv("PNEUMO_DICOMWEB_USER", "scorer")
    monkeypatch.setenv("PNEUMO_DICOMWEB_PASSWORD", "not-the-Pa55word")
    monkeypatch.setenv("PNEUMO_DICOMWEB_ALLOW_HTTP", "1")
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


def test_a_hostile_study_uid_is_refused_without_being_echoed(capsys, orthanc, dicomweb_env):
    code, lines, err = _run(capsys, "--dicomweb", orthanc.url, "--study", "1.2.3/../../../system")
    assert (code, lines, len(err)) == (2, [], 1) and "not a valid DICOM UID" in err[0] and "system" not in err[0]


def test_the_stored_report_is_the_apps_one_report_with_heatmap_check_operating_point_and_accession(
        capsys, orthanc, loaded, dicomweb_env, client, monkeypatch):
    """Built by `reporting.case.case_report`, the function the app's download uses; read back
    from the PACS and its page's text checked."""
    import io

    import pydicom
    from pypdf import PdfReader

    from pneumo_core.reporting import case as reporting
    built = []
    original = reporting.case_report
    monkeypatch.setattr(reporting, "case_report", lambda **kw: built.append(kw) or original(**kw))
    from datetime import date

    from pydicom.uid import generate_uid

    from harness.orthanc_server import dicom_from_image, new_study
    study = new_study("ACC-6006", date(2024, 9, 1), "CR", patient_name="DOE^JOAN", patient_id="PAT-0006")
    orthanc.upload(dicom_from_image(loaded.source["d_film"], study, generate_uid(), 1))  # a study of this test's own
    code, lines, _ = _run(capsys, "--dicomweb", orthanc.url, "--study", study.uid, "--accession", "ACC-6006",
                          "--store-report")
    assert code == 0 and len(lines) == 1 and len(built) == 1 and lines[0]["report"]
    sop = lines[0]["report"].rsplit("/", 1)[1]
    stored = pydicom.dcmread(io.BytesIO(client.retrieve({r.sop_uid: r for r in client.instances(study.uid)}[sop])))
    pdf = PdfReader(io.BytesIO(stored.EncapsulatedDocument.rstrip(b"\0")))
    text = " ".join(pdf.pages[0].extract_text().split())
    assert "Case: accession ACC-6006" in text and "Accession number: ACC-6006" in text
    assert re.search(r"filling the map's top \d+% in from the film around it", text.lower())  # the check, as on screen
    assert "Expected at this point: sensitivity" in text and "Calibration: temperature scaling" in text
    assert len(pdf.pages[0].images) == 2  # the film, and the film with its heatmap

