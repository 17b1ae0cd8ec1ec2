"""The PACS page under a site profile: a study's film is moved to the profile through the one
door (`scoring.case_on_site`), so its P is `predict --site`'s for the same film. The film is a
validation film (not the test split the shipped kermany-test profile was fitted on, so no
out-of-fold step is involved)."""
from __future__ import annotations

import io
import json
from datetime import date

import pydicom
from conftest import APP_TIMEOUT, REPO, run_cli
from pydicom.uid import generate_uid
from streamlit.testing.v1 import AppTest

from harness.orthanc_server import PASSWORD, USER, dicom_from_image, new_study
from pneumo_core.stats.display import format_probability

ENTRY = str(REPO / "tests" / "pacs" / "pacs_app.py")
FILM = REPO.parent / "shared" / "data" / "chest_xray" / "val" / "PNEUMONIA" / "person1946_bacteria_4874.jpeg"
MODEL = "efficientnet_lite0"


def test_a_pacs_studys_p_under_the_kermany_test_profile_is_predict_sites_p(orthanc, tmp_path, monkeypatch):
    for k in ("PNEUMO_DICOMWEB_URL", "PNEUMO_DICOMWEB_USER", "PNEUMO_DICOMWEB_PASSWORD", "PNEUMO_DICOMWEB_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    study = new_study("ACC-6006", date(2024, 9, 1), "CR", patient_name="ROE^RITA", patient_id="PAT-0006")
    data = dicom_from_image(FILM, study, generate_uid(), 1)
    orthanc.upload(data)
    path = tmp_path / "film.dcm"
    path.write_bytes(data)
    assert pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).AccessionNumber == "ACC-6006"

    at = AppTest.from_file(ENTRY, default_timeout=APP_TIMEOUT)
    at.secrets["dicomweb"] = {"url": orthanc.url, "user": USER, "password": PASSWORD, "allow_http": True}
    at = at.run()
    assert at.sidebar.selectbox(key="model").value == MODEL
    at.sidebar.selectbox(key="calibration").set_value("shipped:kermany-test")
    at.text_input(key="pacs_accession").input("ACC-6006")
    at = next(b for b in at.button if b.label == "Search").click().run()
    at = at.button(key="pacs_score").click().run()
    assert not at.exception
    (row,) = at.dataframe[1].value.to_dict("records")

    r = run_cli("predict", "--quiet", "--model", MODEL, "--site", "kermany-test", str(path))
    assert r.returncode == 0, r.stderr
    (line,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert line["site"] == "kermany-test"
    assert row["P(pneumonia)"] == format_probability(line["probability"]) == at.metric[0].value
    assert row["label"] == line["label"] and row["calibration"] == "calibrated for kermany-test"


def _results_shown(at: AppTest) -> bool:
    return "Results" in [h.value for h in at.subheader]


def test_a_study_scored_by_another_network_than_the_calibrations_is_not_shown_but_scored_again(
        orthanc, loaded, monkeypatch):
    """An adapted profile brings its own network: a study scored by another one (here: its
    network marked as an adapted profile's) is not moved to the calibration; the page says to
    score it again, and scoring again shows it."""
    from pneumo_core.app.pacs import pacs_page
    monkeypatch.delenv("PNEUMO_DICOMWEB_URL", raising=False)
    at = AppTest.from_file(ENTRY, default_timeout=APP_TIMEOUT)
    at.secrets["dicomweb"] = {"url": orthanc.url, "user": USER, "password": PASSWORD, "allow_http": True}
    at = at.run()
    at.text_input(key="pacs_accession").input("ACC-4004")
    at = next(b for b in at.button if b.label == "Search").click().run()
    at = at.button(key="pacs_score").click().run()
    assert not at.exception and _results_shown(at) and at.session_state[pacs_page.SCORED].network == ""
    at.session_state[pacs_page.SCORED].network = "an adapted profile's moments"
    at = at.run()
    assert not at.exception and not _results_shown(at)
    assert [i.value for i in at.info if "score it again" in i.value] == [
        "This study was scored by another network than this calibration's (an adapted profile has its own); "
        "score it again."]
    at = at.button(key="pacs_score").click().run()
    assert not at.exception and _results_shown(at)
