"""The structured results against a real Orthanc: `predict --dicomweb ... --store-report`
stores the film's SR and heatmap image beside its PDF; read back over DICOMweb they parse
with highdicom and print with dcmtk's dsrdump; a resend adds nothing; a wrong accession
stores nothing."""
from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import date

import highdicom as hd
import pydicom
import pytest
from pydicom.uid import generate_uid

from harness.orthanc_server import dicom_from_image, new_study
from pneumo_core import __version__
from pneumo_core.cli import main
from pneumo_core.evaluation.operating_point import operating_point
from pneumo_core.pacs.results_read import read_results
from pneumo_core.pacs.store import REFUSED, ReportContent, store_report

COMPREHENSIVE_SR, SC_STORAGE = "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.7"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
ACCESSION = "ACC-6006"


def _predict(capsys, orthanc, study_uid: str) -> dict:
    code = main(["predict", "--quiet", "--dicomweb", orthanc.url, "--study", study_uid, "--accession", ACCESSION,
                 "--store-report"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(lines) == 1, [(x["warnings"], x.get("report")) for x in lines]
    return lines[0]


@pytest.fixture(scope="module")
def study(orthanc, test_images):
    """A study of its own (one pneumonia film), so this module counts only its own instances."""
    s = new_study(ACCESSION, date(2024, 9, 1), "CR", patient_name="ROE^RITA", patient_id="PAT-0006")
    data = dicom_from_image(test_images["PNEUMONIA"][6], s, generate_uid(), 1)
    orthanc.upload(data)
    return s, str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)


def _by_class(client, study_uid: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for ref in client.instances(study_uid):
        out.setdefault(ref.sop_class, []).append(ref)
    return out


def test_store_report_puts_the_sr_and_the_map_beside_the_pdf_and_a_resend_adds_nothing(
        capsys, orthanc, study, client, dicomweb_env, default_predictor, tmp_path):
    s, film_uid = study
    line = _predict(capsys, orthanc, s.uid)
    assert line["status"] == "scored" and line["report"]
    found = _by_class(client, s.uid)
    assert {k: len(v) for k, v in found.items()} == {"1.2.840.10008.5.1.4.1.1.1": 1, ENCAPSULATED_PDF: 1,
                                                      COMPREHENSIVE_SR: 1, SC_STORAGE: 1}
    sr_bytes = client.retrieve(found[COMPREHENSIVE_SR][0])
    back = read_results(pydicom.dcmread(io.BytesIO(sr_bytes)))
    op = operating_point(default_predictor.bundle.directory, line["threshold"])
    assert back.probability == pytest.approx(line["probability"], abs=1e-12) and back.call == line["label"]
    assert back.threshold == pytest.approx(line["threshold"], abs=1e-12)
    assert back.sensitivity == pytest.approx(op.sensitivity, abs=1e-12)
    assert back.specificity == pytest.approx(op.specificity, abs=1e-12)
    assert (back.model, back.version) == (line["model"], __version__) == (default_predictor.name, __version__)
    assert back.weights_sha256 == default_predictor.bundle.meta.model_sha256
    assert back.source_sop_uid == film_uid and back.parameters["operating point"] == "balanced"

    path = tmp_path / "sr.dcm"
    path.write_bytes(sr_bytes)
    dump = subprocess.run(["dsrdump", str(path)], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    shown = re.search(r'NUM:\(,,"Probability"\)="([0-9.eE+-]+)"', dump.stdout)
    assert shown and float(shown.group(1)) == pytest.approx(line["probability"], abs=1e-9), dump.stdout

    image = hd.imread(io.BytesIO(client.retrieve(found[SC_STORAGE][0])))
    assert image.PhotometricInterpretation == "RGB" and image.SourceImageSequence[0].ReferencedSOPInstanceUID == \
        film_uid and image.AccessionNumber == ACCESSION

    again = _predict(capsys, orthanc, s.uid)
    assert again["report"] == line["report"] and "report already stored in the study; not stored again" in \
        again["warnings"]
    assert sorted(r.sop_uid for r in client.instances(s.uid)) == sorted(r.sop_uid for v in found.values() for r in v)


def test_a_wrong_accession_stores_no_results_and_builds_none(client, study, spy):
    s, film_uid = study
    before = len(client.instances(s.uid))
    built = []
    done = store_report(client, s.uid, film_uid, "ACC-1001", lambda: b"%PDF-1.4\n", "m",
                        ReportContent("PNEUMONIA", 0.9, 0.5, "balanced"), lambda header: built.append(header))
    assert done.outcome == REFUSED and "not this study's" in done.message and not built
    assert not [m for m, _ in spy.sent if m == "POST"] and len(client.instances(s.uid)) == before


def _results_for(film_uid: str, content: ReportContent, probability: float | None = None):
    """A builder of the SR and map saying `content` (or another probability) for model "m"."""
    import numpy as np

    from pneumo_core.pacs.results_dicom import ModelIdentity, ResultFacts, build_results, film_header
    facts = ResultFacts(probability or content.probability, content.label, content.threshold, content.operating_point,
                        "calibrated on validation data", "", None, None, None, None, "no estimate",
                        ModelIdentity("m", "1", "0" * 64))
    built = []

    def results(header):
        built.append(header)
        film = film_header(header, generate_uid(), film_uid, "1.2.840.10008.5.1.4.1.1.1")
        return build_results(film, facts, np.zeros((16, 16, 3), np.uint8))
    return results, built


def test_results_missing_beside_a_stored_pdf_are_added_once_without_sending_the_pdf_again(client, study, spy):
    s, film_uid = study
    content = ReportContent("PNEUMONIA", 0.91, 0.5, "balanced")
    first = store_report(client, s.uid, film_uid, ACCESSION, lambda: b"%PDF-1.4\n", "m", content)
    results, built = _results_for(film_uid, content)
    posts = len([m for m, _ in spy.sent if m == "POST"])
    added = store_report(client, s.uid, film_uid, ACCESSION, lambda: b"%PDF-1.4\n", "m", content, results)
    assert (first.outcome, added.outcome) == ("stored", "stored") and "beside the report already" in added.message
    assert len([m for m, _ in spy.sent if m == "POST"]) == posts + 2 and len(built) == 1  # the SR and the map only
    here = {r.sop_uid: r.sop_class for r in client.instances(s.uid)}
    assert (here[added.sr_uid], here[added.map_uid]) == (COMPREHENSIVE_SR, SC_STORAGE)
    again = store_report(client, s.uid, film_uid, ACCESSION, lambda: b"%PDF-1.4\n", "m", content, results)
    assert again.outcome == "already-stored" and len(built) == 1  # nothing missing: nothing built


def test_results_that_do_not_say_what_was_checked_are_not_sent(client, study, spy):
    s, film_uid = study
    content = ReportContent("PNEUMONIA", 0.93, 0.5, "balanced")
    results, _ = _results_for(film_uid, content, probability=0.5)  # built saying another probability
    before = len(client.instances(s.uid))
    with pytest.raises(ValueError, match="UIDs"):
        store_report(client, s.uid, film_uid, ACCESSION, lambda: b"%PDF-1.4\n", "m", content, results)
    assert not [m for m, _ in spy.sent if m == "POST"] and len(client.instances(s.uid)) == before
