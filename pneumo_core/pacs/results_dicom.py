"""A scored film's results as DICOM objects a PACS and its viewers understand (IHE AI Results):
a Structured Report that systems read, and the heatmap over the film as an image viewers show.

* **The SR** is a Comprehensive SR holding a TID 1500 Measurement Report (highdicom). One
  measurement group (TID 1501) about the film (its SOP instance in the group's source images
  and the evidence; no image library, whose descriptors need a Patient Orientation that CR
  films often lack): finding type Pneumonia (SCT 233604007) in the lung
  (SCT 39607008); the call as a qualitative evaluation (Pneumonia: Present / Absent, SCT);
  numbers as TID 300 measurements: the probability (DCM 122157 "Probability"), the threshold
  (DCM 122411 "Threshold Value"), and the operating point's expected sensitivity and
  specificity (DCM 111088 "Case Sensitivity", DCM 111090 "Case Specificity") with their 95%
  intervals. The model in the group's Algorithm Identification (TID 4019): its name, version
  and, as Algorithm Parameters (text), its weights' SHA-256, the operating point's name, the
  calibration or site profile, and where the expected figures come from (or why there are none).
* **Private codes** (scheme `PRIVATE_SCHEME` = "99PNEUMO", where DICOM has no code): the four
  interval bounds, `SENS_CI_LOW`, `SENS_CI_HIGH`, `SPEC_CI_LOW`, `SPEC_CI_HIGH` (95%, patient
  bootstrap or the profile's cross-fitted interval, `evaluation.operating_point`).
* **The map** is a Secondary Capture (RGB) of the report's overlay (`reporting.case`: the film
  as the model read it, upright, the heatmap blended over it as on screen), its Source Image
  Sequence naming the film. Its orientation is written as the radiographic convention ("L",
  "F"): the gate turned the film upright before scoring.

Every figure comes from the case report the PDF is drawn from (`ResultFacts.from_case`), so
the SR and the PDF say the same numbers. UIDs are derived from the study, the film, the model
and what the result says (`uids.result_uids`), so a resend builds the same instances.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian

from .uids import MAP_KIND, SR_KIND, ReportContent, derived_uid, result_uids

if TYPE_CHECKING:
    from ..inference.predictor import Prediction, Predictor
    from ..io.case_report import ReportCase
    from ..models.bundle import ModelBundle
    from ..models.metadata import ModelMetadata

__all__ = ["PRIVATE_SCHEME", "PNEUMONIA", "PROBABILITY", "THRESHOLD", "SENSITIVITY", "SPECIFICITY", "CI_CODES",
           "SR_SERIES_NUMBER", "MAP_SERIES_NUMBER", "MANUFACTURER", "ModelIdentity", "model_identity",
           "identity_of", "ResultFacts", "StructuredResults", "build_results", "film_header", "results_from_case",
           "results_for"]

PRIVATE_SCHEME = "99PNEUMO"
PNEUMONIA = Code("233604007", "SCT", "Pneumonia")
LUNG = Code("39607008", "SCT", "Lung structure")
CHEST_XRAY = Code("399208008", "SCT", "Plain chest X-ray")
PROBABILITY = codes.DCM.Probability
THRESHOLD = codes.DCM.ThresholdValue
SENSITIVITY = codes.DCM.CaseSensitivity
SPECIFICITY = codes.DCM.CaseSpecificity
CI_CODES = {
    "sensitivity": (Code("SENS_CI_LOW", PRIVATE_SCHEME, "Expected sensitivity, 95% interval low"),
                    Code("SENS_CI_HIGH", PRIVATE_SCHEME, "Expected sensitivity, 95% interval high")),
    "specificity": (Code("SPEC_CI_LOW", PRIVATE_SCHEME, "Expected specificity, 95% interval low"),
                    Code("SPEC_CI_HIGH", PRIVATE_SCHEME, "Expected specificity, 95% interval high")),
}
SR_SERIES_NUMBER, MAP_SERIES_NUMBER = 9902, 9903  # after the PDF report's 9901
MANUFACTURER = "pneumo_core (research demo)"
_NO_UNITS = codes.UCUM.NoUnits


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made the result: its name, the software version that ran it, its weights' SHA-256."""
    name: str
    version: str
    weights_sha256: str


def model_identity(bundle: ModelBundle) -> ModelIdentity:
    """The identity of a loaded model (`Predictor.bundle`)."""
    return identity_of(bundle.name, bundle.meta)


def identity_of(name: str, meta: ModelMetadata) -> ModelIdentity:
    """The identity of model `name` from its `model.json` alone (the app holds that, not a bundle)."""
    from .. import __version__
    return ModelIdentity(name, __version__, meta.model_sha256)


@dataclass(frozen=True)
class ResultFacts:
    """What the results say, as the case report says it (`from_case`)."""
    probability: float
    label: str
    threshold: float
    operating_point: str          # the threshold's name ("balanced") or its value as typed
    calibration: str              # what the probability is calibrated on, in words
    site: str                     # the site profile's name, "" under the source calibration
    sensitivity: float | None     # expected at the threshold; None where no honest estimate exists
    sensitivity_ci: tuple[float, float] | None
    specificity: float | None
    specificity_ci: tuple[float, float] | None
    estimate_source: str          # where the expected figures come from, or why there are none
    model: ModelIdentity

    @classmethod
    def from_case(cls, case: ReportCase, model: ModelIdentity, site: str | None = None) -> ResultFacts:
        """The facts of the report `case` (the PDF's); `site` is the profile's own name
        (`Prediction.site`), which the UIDs use as the PDF's do."""
        return cls(float(case.probability), case.label, float(case.threshold), case.operating_point,
                   case.calibration, site or "", case.sensitivity, case.sensitivity_ci, case.specificity,
                   case.specificity_ci, case.operating_point_source, model)

    @property
    def content(self) -> ReportContent:
        """What makes two results the same (their UIDs' key)."""
        return ReportContent(self.label, self.probability, self.threshold, self.operating_point, self.site)


@dataclass(frozen=True)
class StructuredResults:
    """The SR and the map of one film, ready for STOW-RS or C-STORE."""
    sr: pydicom.Dataset
    map: pydicom.Dataset

    @property
    def datasets(self) -> tuple[pydicom.Dataset, pydicom.Dataset]:
        return self.sr, self.map


def _algorithm(facts: ResultFacts) -> hd.sr.AlgorithmIdentification:
    parameters = [f"weights sha256: {facts.model.weights_sha256}", f"operating point: {facts.operating_point}",
                  f"calibration: {facts.calibration}", f"expected sensitivity and specificity: {facts.estimate_source}"]
    if facts.site:
        parameters.insert(2, f"site profile: {facts.site}")
    return hd.sr.AlgorithmIdentification(name=facts.model.name, version=facts.model.version, parameters=parameters,
                                         manufacturer=MANUFACTURER)


def _measurements(facts: ResultFacts) -> list[hd.sr.Measurement]:
    values = [(PROBABILITY, facts.probability), (THRESHOLD, facts.threshold)]
    for what, code in (("sensitivity", SENSITIVITY), ("specificity", SPECIFICITY)):
        value, ci = getattr(facts, what), getattr(facts, f"{what}_ci")
        if value is None:
            continue
        values.append((code, value))
        if ci is not None:
            values += list(zip(CI_CODES[what], ci))
    return [hd.sr.Measurement(name=name, value=float(v), unit=_NO_UNITS) for name, v in values]


def _sr(film: pydicom.Dataset, facts: ResultFacts, sop: str, series: str) -> hd.sr.ComprehensiveSR:
    call = codes.SCT.Present if facts.label == "PNEUMONIA" else codes.SCT.Absent
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=derived_uid(b"tracking", sop), identifier="pneumonia"),
        finding_type=PNEUMONIA, finding_sites=[hd.sr.FindingSite(LUNG)], algorithm_id=_algorithm(facts),
        measurements=_measurements(facts), qualitative_evaluations=[hd.sr.QualitativeEvaluation(PNEUMONIA, call)],
        source_images=[hd.sr.SourceImageForMeasurementGroup(film.SOPClassUID, film.SOPInstanceUID)])
    device = hd.sr.DeviceObserverIdentifyingAttributes(uid=derived_uid(b"device", facts.model.weights_sha256),
                                                       name=facts.model.name, manufacturer_name=MANUFACTURER,
                                                       model_name=facts.model.name)
    context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Device, observer_identifying_attributes=device))
    report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=CHEST_XRAY,
                                     imaging_measurements=[group])
    return hd.sr.ComprehensiveSR(
        evidence=[film], content=report[0], series_instance_uid=series, series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop, instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        series_description="Pneumonia detector results (research demo)")


def _map(film: pydicom.Dataset, overlay: np.ndarray, sop: str, series: str) -> hd.sc.SCImage:
    pixels = np.ascontiguousarray(np.asarray(overlay, dtype=np.uint8))
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError("the overlay is an RGB image (H x W x 3, uint8)")
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=film, pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", series_instance_uid=series, series_number=MAP_SERIES_NUMBER,
        sop_instance_uid=sop, instance_number=1, manufacturer=MANUFACTURER, patient_orientation=("L", "F"),
        transfer_syntax_uid=ExplicitVRLittleEndian)
    source = pydicom.Dataset()
    source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID = film.SOPClassUID, film.SOPInstanceUID
    sc.SourceImageSequence = [source]
    sc.SeriesDescription = "Pneumonia detector heatmap (research demo)"
    sc.DerivationDescription = "the model's heatmap blended over the film as it read it (upright)"
    sc.ConversionType = "WSD"  # made on a workstation, as the PDF report
    sc.BurnedInAnnotation = "NO"
    return sc


def _part10(ds: pydicom.Dataset) -> pydicom.Dataset:
    ds.preamble = b"\0" * 128  # dicomweb-client writes the dataset as is: a full Part 10 file needs it
    return ds


def build_results(film: pydicom.Dataset, facts: ResultFacts, overlay: np.ndarray) -> StructuredResults:
    """The SR and the map of `film` (its header at least: patient, study, series and SOP
    attributes; pixels are not read) saying `facts`, the map showing `overlay` (RGB uint8).
    The same film, model and facts give the same UIDs."""
    study, source = str(film.StudyInstanceUID), str(film.SOPInstanceUID)
    sr_uids = result_uids(SR_KIND, study, source, facts.model.name, facts.content)
    map_uids = result_uids(MAP_KIND, study, source, facts.model.name, facts.content)
    return StructuredResults(_part10(_sr(film, facts, *sr_uids)), _part10(_map(film, overlay, *map_uids)))


def film_header(study: pydicom.Dataset, series_uid: str, sop_uid: str, sop_class: str) -> pydicom.Dataset:
    """The film's header the results need, from its study's header (`PacsClient.study_header`)
    and its identifiers: the patient and study attributes the PDF report copies, nothing more,
    and no bytes of the film parsed outside the decode worker."""
    from .report_dicom import PATIENT_ATTRIBUTES, STUDY_ATTRIBUTES
    film = pydicom.Dataset()
    for keyword in PATIENT_ATTRIBUTES + STUDY_ATTRIBUTES:
        setattr(film, keyword, study.get(keyword, ""))
    film.SeriesInstanceUID, film.SOPInstanceUID, film.SOPClassUID = series_uid, sop_uid, sop_class
    return film


def results_from_case(film: pydicom.Dataset, case: ReportCase, model: ModelIdentity,
                      site: str | None = None) -> StructuredResults:
    """The SR and the map saying what the case report `case` says (the PDF's own), its overlay as the map."""
    if case.overlay is None:
        raise ValueError("the case report has no heatmap to store")
    return build_results(film, ResultFacts.from_case(case, model, site), case.overlay)


def results_for(predictor: Predictor, prediction: Prediction, data: bytes, film: pydicom.Dataset,
                operating_point: str, accession: str = "") -> StructuredResults:
    """The SR and the map of a scored film, from the same case report as its PDF
    (`report_dicom.report_case`): `data` are the film's bytes as scored, `film` their header."""
    from .report_dicom import report_case
    case = report_case(predictor, prediction, data, operating_point, accession)
    return results_from_case(film, case, model_identity(predictor.bundle), prediction.site)
