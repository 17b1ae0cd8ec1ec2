"""pacs.report_dicom: the case report as an Encapsulated PDF in the film's study, and its
round trip through a real Orthanc (STOW-RS, then QIDO-RS and WADO-RS)."""
import io

import pydicom
import pytest

from pneumo_core.pacs.report_dicom import ENCAPSULATED_PDF, encapsulated_pdf, report_pdf
from pneumo_core.pacs.score import score_study
from pneumo_core.pacs.study import plan_study

PDF = b"%PDF-1.4\n%minimal\n"


def _study() -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.StudyInstanceUID, ds.AccessionNumber, ds.StudyDate = "1.2.3.4", "ACC-9", "20240105"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "DOE^JANE", "PAT-9", "20200101", "F"
    ds.PatientAddress, ds.OtherPatientIDs, ds.PatientComments = "1 Main St", "OTHER-1", "allergic"
    return ds


def test_the_report_is_a_new_series_in_the_same_study_with_fresh_uids():
    ds = encapsulated_pdf(PDF, _study())
    assert ds.SOPClassUID == ENCAPSULATED_PDF and ds.StudyInstanceUID == "1.2.3.4"
    assert ds.Modality == "DOC" and ds.SeriesInstanceUID != ds.SOPInstanceUID
    assert ds.SeriesInstanceUID != encapsulated_pdf(PDF, _study()).SeriesInstanceUID
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf" and ds.EncapsulatedDocument.startswith(b"%PDF")


def test_only_the_patient_attributes_dicom_requires_are_copied():
    ds = encapsulated_pdf(PDF, _study())
    patient = {e.keyword for e in ds if e.tag.group == 0x0010}
    assert patient == {"PatientName", "PatientID", "PatientBirthDate", "PatientSex"}
    assert (ds.PatientID, ds.AccessionNumber) == ("PAT-9", "ACC-9")


def test_a_study_without_patient_data_still_gets_the_type_2_attributes_empty():
    study = pydicom.Dataset()
    study.StudyInstanceUID = "1.2.3"
    ds = encapsulated_pdf(PDF, study)
    assert "PatientName" in ds and ds.PatientName == "" and ds.AccessionNumber == ""


def test_bytes_that_are_not_a_pdf_are_refused():
    with pytest.raises(ValueError):
        encapsulated_pdf(b"<html>", _study())


def test_a_stored_report_reads_back_from_the_study_as_a_pdf(client, loaded, default_predictor):
    plan = plan_study(client.instances(loaded.c.uid))
    scored = next(score_study(default_predictor, client, plan))
    assert scored.prediction.probability is not None
    ds = encapsulated_pdf(report_pdf(default_predictor, scored.prediction, scored.data, "balanced"),
                          client.study_header(loaded.c.uid))
    client.store(ds)
    back = {r.sop_uid: r for r in client.instances(loaded.c.uid)}[str(ds.SOPInstanceUID)]
    assert back.sop_class == ENCAPSULATED_PDF and back.series_uid not in {r.series_uid for r in plan.frontal}
    stored = pydicom.dcmread(io.BytesIO(client.retrieve(back)))
    assert stored.EncapsulatedDocument.startswith(b"%PDF")
    assert (stored.PatientID, stored.StudyInstanceUID) == ("PAT-0003", loaded.c.uid)


def test_the_stored_report_words_the_heatmap_check_as_the_screen_does_not_the_old_carries_much(
        default_predictor, test_images, monkeypatch):
    """Issue #29 leftover: the PACS report printed the old wording ("changes P(pneumonia) from
    1.00 to 1.00: the region carries much of the PNEUMONIA call") while the app's PDF printed
    `reporting.region_check`'s; now both print that one wording."""
    import re

    from pneumo_core.pacs import report_dicom
    drawn = []
    monkeypatch.setattr(report_dicom, "render_report", lambda case, fmt: drawn.append(case) or b"%PDF-1.4\n")
    film = test_images["PNEUMONIA"][0]
    data = film.read_bytes()
    report_pdf(default_predictor, default_predictor.predict_bytes(data, film.name), data, "balanced")
    check = drawn[0].heatmap_check
    assert "carries much" not in check and "changes P(pneumonia) from" not in check, check
    # region_check's five sentences open one of two ways and weigh the logit or name the flip
    assert re.match(r"(Filling the map's top 20% in from the film around it|The map fails its own check)", check), check
    assert "logits" in check or "turns the call" in check, check


def test_the_stored_report_carries_the_shortcut_check_the_case_shows(default_predictor, monkeypatch):
    """The PDF says what the screen says beside the map: on a validation film whose map's
    strongest cell sits on the "R" marker (tests/app/test_app_check.py's MOVES film), the
    command line's report names the marker and how far filling it in moved the score."""
    from conftest import REPO

    from pneumo_core.pacs import report_dicom
    drawn = []
    monkeypatch.setattr(report_dicom, "render_report", lambda case, fmt: drawn.append(case) or b"%PDF-1.4\n")
    film = REPO.parent / "shared" / "data" / "chest_xray" / "train" / "PNEUMONIA" / "person1418_virus_2429.jpeg"
    data = film.read_bytes()
    report_pdf(default_predictor, default_predictor.predict_bytes(data, film.name), data, "balanced")
    shortcut = drawn[0].heatmap_shortcut
    assert shortcut.startswith("The map's strongest cell lies on a burned-in marker"), shortcut
    assert "lowers the model's PNEUMONIA score by" in shortcut and "call stands" in shortcut, shortcut
