"""Out-of-distribution warning: it must fire on things that are not radiographs, stay
quiet on radiographs, and never take the probability away.

The rates here are a fast, deterministic subset of benchmarks/ood_rates.py (default model
only; the benchmark runs every image through both models). Test names say the failure
each one guards against.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from harness.non_radiographs import (as_radiographs, official_test_radiographs, png_bytes, skimage_samples,
                                     synthetic_samples)
from pneumo_core.inference.ood import (POSTERISED_WARNING, OODModel, colour_check, grey_level_concentration,
                                       image_check_reasons, ood_record, posterised_check)
from pneumo_core.inference.predictor import OOD_WARNING, Prediction, Predictor
from pneumo_core.io.ingest import BLANK_WARNING, COLOUR_WARNING, Radiograph, load
from pneumo_core.models.bundle import WEIGHTS_DIR

DATA = REPO.parent / "shared" / "data" / "chest_xray"  # the full dataset: validation films come from train/
TEST_STEP = 20  # every 20th official test image: 32 radiographs from both classes
SYNTHETIC_STEP = 4  # every 4th synthetic picture: one or more of each kind


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """The OOD flag itself, with the input gate off: with it on, most of these pictures are
    not assessed at all (tests/inference/test_input_gate.py)."""
    return Predictor(gate=False)


@pytest.fixture(scope="module")
def test_predictions(predictor: Predictor) -> list[Prediction]:
    images, names = official_test_radiographs(step=TEST_STEP)
    return predictor.predict_radiographs(images, names)


@pytest.fixture(scope="module")
def non_radiograph_predictions(predictor: Predictor) -> list[Prediction]:
    samples = skimage_samples() + synthetic_samples()[::SYNTHETIC_STEP]
    images, names, _, refused = as_radiographs(samples)
    assert not refused, refused
    return predictor.predict_radiographs(images, names)


def _flagged(p: Prediction) -> bool:
    return OOD_WARNING in p.warnings


def _radiograph_bytes() -> bytes:
    return sorted((Path(__file__).resolve().parents[2] / "data" / "test" / "NORMAL").glob("*.jpeg"))[0].read_bytes()


# --- rates -------------------------------------------------------------------------------
def test_radiographs_are_rarely_flagged_so_the_warning_keeps_its_meaning(test_predictions):
    rate = np.mean([_flagged(p) for p in test_predictions])
    assert len(test_predictions) >= 30
    assert rate <= 0.05, [p.file for p in test_predictions if _flagged(p)]


def test_non_radiographs_are_flagged_including_grey_photos(non_radiograph_predictions):
    rate = np.mean([_flagged(p) for p in non_radiograph_predictions])
    missed = [p.file for p in non_radiograph_predictions if not _flagged(p)]
    assert len(non_radiograph_predictions) >= 50
    assert rate >= 0.95, missed


def test_flagged_images_still_get_a_probability_and_a_label(non_radiograph_predictions):
    flagged = [p for p in non_radiograph_predictions if _flagged(p)]
    assert flagged
    for p in flagged:
        assert p.error is None and p.label in ("NORMAL", "PNEUMONIA")
        assert p.probability is not None and 0.0 <= p.probability <= 1.0
        assert p.ood_score is not None


def test_warnings_stay_one_line_and_ood_is_said_once(non_radiograph_predictions, test_predictions):
    for p in non_radiograph_predictions + test_predictions:
        assert all(isinstance(w, str) and w and "\n" not in w for w in p.warnings), p.warnings
        assert p.warnings.count(OOD_WARNING) <= 1 and len(set(p.warnings)) == len(p.warnings), p.warnings
        assert set(p.to_record()) == {"file", "status", "probability", "label", "threshold", "model", "warnings",
                                      "error"}


@pytest.mark.parametrize("name", ["efficientnet_lite0", "paper_cnn"])
def test_flag_thresholds_are_the_99_5th_percentiles_of_the_models_own_validation_films(name):
    """Re-derives both thresholds from the shipped model's validation films (its split.json):
    a threshold chosen any other way, e.g. on the test split, fails here."""
    import torch

    from pneumo_core.data.dataset import load_resized, manifest_items
    from pneumo_core.models.bundle import load_bundle
    from pneumo_core.training.train import logits_and_features

    bundle = load_bundle(name)
    val = manifest_items(bundle.directory / "split.json", DATA)["val"]
    with torch.inference_mode():
        _, feats = logits_and_features(bundle.model, load_resized(val, bundle.spec.size, 1), bundle.spec,
                                       torch.device("cpu"), batch=32)
    ood = OODModel.load(bundle.directory / "ood.npz")
    inside, residual = ood.terms(feats)
    assert ood.term_thresholds == pytest.approx((np.quantile(inside, 0.995), np.quantile(residual, 0.995)), rel=1e-5)
    assert (inside > ood.term_thresholds[0]).sum() == (residual > ood.term_thresholds[1]).sum() == 4  # of 642


def test_model_json_describes_the_flag_and_leaves_its_numbers_to_ood_npz():
    for name in ["efficientnet_lite0", "paper_cnn"]:
        meta = json.loads((WEIGHTS_DIR / name / "model.json").read_text())
        assert meta["ood"] == ood_record(OODModel.load(WEIGHTS_DIR / name / "ood.npz"))


# --- the cheap checks catch what the feature score lets through --------------------------
def _tinted(gray_u8: np.ndarray) -> np.ndarray:
    """A warm-tinted copy with the same luma (0.299 R + 0.587 G + 0.114 B), so the grey picture
    the model sees barely changes while the colour is plain (a phone photo of a film, a screenshot)."""
    g = gray_u8.astype(np.float32)
    return np.clip(np.rint(np.stack([g + 24, g - 6, g - 32], axis=2)), 0, 255).astype(np.uint8)


def test_colour_image_is_flagged_even_when_its_feature_score_is_in_distribution(predictor: Predictor):
    grey = np.asarray(Image.open(io.BytesIO(_radiograph_bytes())).convert("L"))
    plain = predictor.predict_bytes(png_bytes(grey), "plain.png")
    p = predictor.predict_bytes(png_bytes(_tinted(grey)), "tinted.png")
    assert not _flagged(plain), plain.warnings
    # same luma, so the model's features (and their verdict) barely move: the colour check is what flags it
    assert p.ood_score is not None and abs(p.ood_score - plain.ood_score) < 0.1
    assert COLOUR_WARNING in p.warnings and _flagged(p)
    assert p.probability is not None and p.label is not None


def test_radiograph_in_a_grey_rgb_container_is_not_called_colour(predictor: Predictor):
    grey = Image.open(io.BytesIO(_radiograph_bytes())).convert("L")
    buf = io.BytesIO()
    grey.convert("RGB").save(buf, format="PNG")
    p = predictor.predict_bytes(buf.getvalue(), "grey_as_rgb.png")
    assert COLOUR_WARNING not in p.warnings and not _flagged(p), p.warnings


@pytest.mark.parametrize("picture, saturation_above", [
    ("grey_png", None),
    ("grey_in_rgb_png", None),
    ("red_png", 0.05),
    ("tinted_jpeg", 0.05),
])
def test_ingest_keeps_the_measured_colour_saturation_for_the_ood_checks(picture: str, saturation_above):
    grey = np.tile(np.linspace(0, 255, 128, dtype=np.uint8), (96, 1))
    arrays = {"grey_png": grey, "grey_in_rgb_png": np.stack([grey] * 3, axis=2),
              "red_png": np.broadcast_to(np.array([220, 30, 30], np.uint8), (96, 128, 3)),
              "tinted_jpeg": _tinted(grey)}
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arrays[picture])).save(buf, format="JPEG" if "jpeg" in picture else "PNG")
    r = load(buf.getvalue())
    if saturation_above is None:
        assert r.colour_saturation < 0.01
    else:
        assert r.colour_saturation > saturation_above


def _r(pixels: np.ndarray, saturation: float = 0.0, warnings: list[str] | None = None) -> Radiograph:
    return Radiograph(pixels.astype(np.float32), "PNG", warnings or [], {}, saturation)


_RAMP = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (256, 1))
_NOISY_RAMP = np.clip(_RAMP + np.random.default_rng(0).normal(0, 0.05, _RAMP.shape), 0, 1)


@pytest.mark.parametrize("case, radiograph, expected", [
    ("continuous_tone_grey", _r(_NOISY_RAMP), []),
    ("default_saturation_is_grey", Radiograph(_NOISY_RAMP.astype(np.float32), "DICOM"), []),
    ("slight_jpeg_chroma_noise", _r(_NOISY_RAMP, saturation=0.01), []),
    ("colour", _r(_NOISY_RAMP, saturation=0.3), [COLOUR_WARNING]),
    ("blank", _r(np.full((128, 128), 0.4)), [BLANK_WARNING]),
    ("binary_mask", _r((_RAMP > 0.5).astype(np.float32)), [POSTERISED_WARNING]),
    ("four_level_drawing", _r(np.floor(_RAMP * 4) / 3), [POSTERISED_WARNING]),
    ("colour_and_blank", _r(np.full((128, 128), 0.4), saturation=0.5), [COLOUR_WARNING, BLANK_WARNING]),
])
def test_image_checks_name_plain_non_radiographs_and_pass_continuous_tone(case, radiograph, expected):
    assert image_check_reasons(radiograph) == expected


def test_posterised_check_passes_a_radiograph_with_a_wide_black_border():
    """Collimation and padding add one big black spike to the histogram; that alone is not a drawing."""
    img = np.zeros((256, 256), np.float32)
    img[64:192, 64:192] = _NOISY_RAMP[:128, :128]  # 75% of the picture is black border
    assert grey_level_concentration(img) < 0.9 and posterised_check(_r(img)) is None
    assert colour_check(_r(img)) is None


def test_reasons_already_given_by_ingest_are_not_repeated(predictor: Predictor):
    blank = png_bytes(np.full((128, 128), 90, np.uint8))
    p = predictor.predict_bytes(blank, "blank.png")
    assert p.warnings.count(BLANK_WARNING) == 1 and _flagged(p), p.warnings


