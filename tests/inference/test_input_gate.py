"""The input gate in the product path: no call on what cannot be read, turned or inverted films
corrected before they are scored, one contract for the CLI (exit 0, label and probability null)."""
import io
import json
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from conftest import REPO
from pneumo_core.inference.gate import NOT_ASSESSED_PREFIX
from pneumo_core.inference.gate import REASONS, reason_code
from pneumo_core.inference.orientation import TRANSFORMS
from pneumo_core.inference.predictor import Predictor
from pneumo_core.io.ingest import COLOUR_WARNING

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor()


@pytest.fixture(scope="module")
def film(test_images) -> np.ndarray:
    return np.asarray(Image.open(test_images["NORMAL"][0]).convert("L"))


def _not_assessed(p) -> str:
    assert p.error is None and p.probability is None and p.label is None, p
    reasons = [w for w in p.warnings if w.startswith(NOT_ASSESSED_PREFIX)]
    assert len(reasons) == 1, p.warnings
    return reasons[0]


def test_a_colour_photograph_gets_no_call(predictor):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    p = predictor.predict_bytes(_png(photo), "holiday.png")
    reason = _not_assessed(p)
    assert "colour" in reason or "training radiographs" in reason
    assert p.status == "not_assessed" and set(p.reasons) & {"colour", "far_ood"} and p.to_record()["status"] == "not_assessed"


@pytest.mark.parametrize("turns, inverted, words", [
    (1, False, "rotated 90° counter-clockwise to upright"), (2, False, "rotated 180° to upright"),
    (3, False, "rotated 90° clockwise to upright"), (0, True, "grey levels inverted")])
def test_a_turned_or_negative_film_is_corrected_and_scored_like_the_upright_one(predictor, film, turns, inverted, words):
    upright = predictor.predict_bytes(_png(film), "upright.png")
    turned = np.rot90(film, -turns)
    turned = 255 - turned if inverted else turned
    p = predictor.predict_bytes(_png(np.ascontiguousarray(turned)), "turned.png")
    assert p.probability is not None, p.warnings  # this clear film is corrected, not withheld
    assert any(words in w for w in p.warnings), p.warnings
    assert p.status == "scored" and TRANSFORMS[p.correction].turns_cw == turns and TRANSFORMS[p.correction].inverted == inverted
    assert abs(p.probability - upright.probability) < 0.05 and p.label == upright.label


def test_an_upright_film_is_scored_without_a_correction(predictor, film):
    p = predictor.predict_bytes(_png(film), "upright.png")
    assert p.probability is not None and not any("corrected" in w for w in p.warnings)
    assert p.status == "scored" and p.correction is None and p.reasons == ()


def test_a_dicom_whose_photometric_tag_disagrees_with_its_pixels_is_corrected(predictor, film, tmp_path):
    """Saved as MONOCHROME2 but with negative pixels (the tag should have said MONOCHROME1)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PhotometricInterpretation = "DX", "MONOCHROME2"
    ds.Rows, ds.Columns = film.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 8, 8, 7, 0
    ds.PixelData = (255 - film).astype(np.uint8).tobytes()
    path = tmp_path / "negative.dcm"
    ds.save_as(path, enforce_file_format=True)
    p = next(predictor.predict_sources([(path, "negative.dcm")]))
    if p.probability is None:
        _not_assessed(p)
    else:
        assert any("grey levels inverted" in w for w in p.warnings), p.warnings


def test_predict_gives_a_withheld_call_as_nulls_with_exit_0(tmp_path):
    photo = np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    (tmp_path / "photo.png").write_bytes(_png(photo))
    r = subprocess.run([sys.executable, "-m", "pneumo_core", "predict", "--quiet", "--model", "paper_cnn",
                        str(tmp_path / "photo.png")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["probability"] is None and line["label"] is None and line["error"] is None
    assert line["warnings"] and line["warnings"][-1].startswith("not assessed:")


def test_with_the_gate_off_every_film_is_scored_as_given(film):
    p = Predictor(gate=False).predict_bytes(_png(np.rot90(film).copy()), "turned.png")
    assert p.probability is not None and not any("corrected" in w for w in p.warnings)


def test_colour_warning_from_ingest_is_not_repeated_in_the_reason(predictor):
    photo = np.zeros((200, 200, 3), np.uint8)
    photo[..., 0] = np.linspace(0, 255, 200, dtype=np.uint8)
    p = predictor.predict_bytes(_png(photo), "red.png")
    _not_assessed(p)
    assert sum(COLOUR_WARNING in w for w in p.warnings) <= 2  # once from ingest, at most once in the reason


def test_turned_films_are_mostly_corrected_and_never_scored_as_given(predictor, test_images):
    outcomes = []
    for path in test_images["NORMAL"][:3] + test_images["PNEUMONIA"][:3]:
        film = np.asarray(Image.open(path).convert("L"))
        for turns, inverted in ((1, False), (2, False), (3, False), (0, True)):
            turned = np.rot90(film, -turns)
            p = predictor.predict_bytes(_png(np.ascontiguousarray(255 - turned if inverted else turned)), "t.png")
            corrected = any(w.startswith("corrected before scoring") for w in p.warnings)
            outcomes.append("corrected" if corrected else "withheld" if p.probability is None else "scored as given")
    assert "scored as given" not in outcomes, outcomes
    assert outcomes.count("corrected") >= 0.9 * len(outcomes), outcomes


def test_an_unreadable_file_has_status_error_and_no_reasons(predictor):
    p = predictor.predict_bytes(b"\x89PNG\r\n\x1a\nbroken", "broken.png")
    assert p.status == "error" and p.error and p.reasons == () and p.to_record()["status"] == "error"


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_reason_code_has_its_words_and_back(code):
    assert reason_code(REASONS[code]) == code


@pytest.mark.parametrize("tags, code_words", [({"ViewPosition": "LL"}, "view is LL"),
                                              ({"Modality": "MR"}, "modality is MR"),
                                              ({"BodyPartExamined": "HAND"}, "body part is HAND")])
def test_an_uploaded_dicom_whose_header_says_it_is_not_a_frontal_chest_film_gets_no_call(predictor, film, tags,
                                                                                          code_words):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1.1", generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.ViewPosition, ds.BodyPartExamined, ds.PhotometricInterpretation = "DX", "PA", "CHEST", "MONOCHROME2"
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.Rows, ds.Columns = film.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 8, 8, 7, 0
    ds.PixelData = film.astype(np.uint8).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    p = predictor.predict_bytes(buf.getvalue(), "film.dcm")
    assert p.status == "not_assessed" and "dicom_header" in p.reasons and code_words in _not_assessed(p)
