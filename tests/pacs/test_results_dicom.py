"""pacs.results_dicom without a server: the SR says what the PDF report says, the map names
its film, and the UIDs follow what the result says."""
from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from harness.orthanc_server import dicom_from_image, new_study
from pneumo_core import __version__
from pneumo_core.pacs.results_dicom import ModelIdentity, ResultFacts, build_results, results_for
from pneumo_core.pacs.results_read import read_results

SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
MODEL = ModelIdentity("m", "9.9", "ab" * 32)


def _film(image) -> tuple[bytes, pydicom.Dataset]:
    data = dicom_from_image(image, new_study("ACC-77", date(2024, 2, 2)), generate_uid(), 1)
    return data, pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def _facts(**changes) -> ResultFacts:
    facts = ResultFacts(0.8, "PNEUMONIA", 0.5, "balanced", "calibrated on validation data", "", 0.9, (0.85, 0.95),
                        0.7, (0.6, 0.8), "official test split", MODEL)
    return replace(facts, **changes)


@pytest.fixture(scope="module")
def film(test_images) -> tuple[bytes, pydicom.Dataset]:
    return _film(test_images["PNEUMONIA"][5])


@pytest.fixture(scope="module")
def drawn_and_built(default_predictor, film):
    """The case the PDF was drawn from, and the SR and map `results_for` built for the same film."""
    from pneumo_core.pacs import report_dicom
    data, header = film
    pred = default_predictor.predict_bytes(data, "film.dcm")
    drawn = []
    real = report_dicom.render_report
    report_dicom.render_report = lambda case, fmt: drawn.append(case) or real(case, fmt)
    try:
        assert report_dicom.report_pdf(default_predictor, pred, data, "balanced").startswith(b"%PDF")
    finally:
        report_dicom.render_report = real
    return drawn[0], results_for(default_predictor, pred, data, header, "balanced"), pred


def test_the_sr_says_the_numbers_the_pdf_report_was_drawn_from(drawn_and_built):
    case, built, pred = drawn_and_built
    back = read_results(built.sr)
    assert back.probability == pytest.approx(case.probability, abs=1e-12) and case.probability == pred.probability
    assert back.threshold == pytest.approx(case.threshold, abs=1e-12) and back.call == case.label == pred.label
    assert case.sensitivity is not None and case.specificity is not None  # the source calibration has an estimate
    assert back.sensitivity == pytest.approx(case.sensitivity, abs=1e-12)
    assert back.specificity == pytest.approx(case.specificity, abs=1e-12)
    assert back.sensitivity_ci == pytest.approx(case.sensitivity_ci, abs=1e-12)
    assert back.specificity_ci == pytest.approx(case.specificity_ci, abs=1e-12)
    assert back.parameters["operating point"] == case.operating_point == "balanced"
    assert back.parameters["calibration"] == case.calibration
    assert back.parameters["expected sensitivity and specificity"] == case.operating_point_source


def test_the_sr_names_the_model_its_version_and_weights_and_the_film(default_predictor, drawn_and_built, film):
    _, built, _ = drawn_and_built
    back = read_results(built.sr)
    assert (back.model, back.version) == (default_predictor.name, __version__)
    assert back.weights_sha256 == default_predictor.bundle.meta.model_sha256 and len(back.weights_sha256) == 64
    assert back.source_sop_uid == film[1].SOPInstanceUID
    assert built.sr.SOPClassUID == COMPREHENSIVE_SR and built.sr.StudyInstanceUID == film[1].StudyInstanceUID
    evidence = built.sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == film[1].SOPInstanceUID


def test_the_map_is_the_reports_overlay_over_its_film(drawn_and_built, film):
    case, built, _ = drawn_and_built
    image = hd.imread(io.BytesIO(_bytes(built.map)))
    assert image.SOPClassUID == SC_STORAGE and image.PhotometricInterpretation == "RGB"
    assert image.SourceImageSequence[0].ReferencedSOPInstanceUID == film[1].SOPInstanceUID
    assert image.StudyInstanceUID == film[1].StudyInstanceUID and image.AccessionNumber == "ACC-77"
    assert np.array_equal(image.get_frame(1), case.overlay)


def _bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_the_same_result_has_the_same_uids_and_another_result_others(film):
    overlay = np.zeros((8, 8, 3), np.uint8)
    a = build_results(film[1], _facts(), overlay)
    again = build_results(film[1], _facts(), overlay + 1)  # the map's pixels are drawn anew, not part of the key
    others = [build_results(film[1], _facts(**c), overlay) for c in
              ({"probability": 0.7}, {"threshold": 0.4}, {"operating_point": "screening"}, {"site": "x"},
               {"model": ModelIdentity("m2", "9.9", "ab" * 32)})]
    assert [ds.SOPInstanceUID for ds in again.datasets] == [ds.SOPInstanceUID for ds in a.datasets]
    uids = {ds.SOPInstanceUID for r in [a, *others] for ds in r.datasets}
    assert len(uids) == 12 and a.sr.SeriesInstanceUID != a.map.SeriesInstanceUID


def test_a_normal_call_reads_back_as_pneumonia_absent(film):
    back = read_results(build_results(film[1], _facts(probability=0.2, label="NORMAL"), np.zeros((8, 8, 3),
                                                                                                 np.uint8)).sr)
    assert back.call == "NORMAL" and back.probability == pytest.approx(0.2)


def test_without_an_estimate_the_sr_has_no_sensitivity_and_says_why(film):
    facts = _facts(sensitivity=None, sensitivity_ci=None, specificity=None, specificity_ci=None, site="ward-3",
                   estimate_source="No estimate of sensitivity and specificity exists at this threshold")
    back = read_results(build_results(film[1], facts, np.zeros((8, 8, 3), np.uint8)).sr)
    assert back.sensitivity is None and back.specificity is None and back.sensitivity_ci is None
    assert back.parameters["site profile"] == "ward-3"
    assert back.parameters["expected sensitivity and specificity"].startswith("No estimate")


def test_an_overlay_that_is_not_rgb_is_refused(film):
    with pytest.raises(ValueError, match="RGB"):
        build_results(film[1], _facts(), np.zeros((8, 8), np.uint8))


def test_our_heatmap_image_is_skipped_on_a_rescore_but_a_digitised_cr_capture_is_still_scored():
    from pneumo_core.pacs.client import InstanceRef
    from pneumo_core.pacs.study import plan_study
    ours = InstanceRef("1.2", "1.2.9", "9", SC_STORAGE, "OT")
    digitised = InstanceRef("1.2", "1.2.8", "8", SC_STORAGE, "CR", "PA", "CHEST")
    plan = plan_study([ours, digitised])
    assert plan.frontal == [digitised] and [r for r, _ in plan.skipped] == [ours] and plan.other == []


def test_the_results_build_from_the_study_header_alone(film):
    from pneumo_core.pacs.results_dicom import film_header
    header = film_header(film[1], film[1].SeriesInstanceUID, film[1].SOPInstanceUID, film[1].SOPClassUID)
    built = build_results(header, _facts(), np.zeros((8, 8, 3), np.uint8))
    assert read_results(built.sr).source_sop_uid == film[1].SOPInstanceUID
    assert (built.map.PatientID, built.sr.AccessionNumber) == (film[1].PatientID, "ACC-77")
