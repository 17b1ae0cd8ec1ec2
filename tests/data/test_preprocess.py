"""Training, evaluation, the CLI and the app must feed the model exactly the same tensor."""
import dataclasses

import numpy as np
import pytest
import torch

from pneumo_core.calibration import calibrated
from pneumo_core.data.dataset import Item, load_resized
from pneumo_core.data.preprocess import InputSpec, preprocess, preprocess_batch, resize_square
from pneumo_core.evaluation.evaluate import predictions_for
from pneumo_core.io.ingest import load


def test_train_eval_and_predict_paths_build_identical_tensors(test_images, default_predictor):
    paths = test_images["NORMAL"][:2] + test_images["PNEUMONIA"][:2]
    spec = default_predictor.spec
    train_batch = preprocess_batch(load_resized([Item(p, 0) for p in paths], spec.size, workers=1), spec)
    single = torch.cat([preprocess(load(p).pixels, spec) for p in paths])
    from_bytes = torch.cat([preprocess(load(p.read_bytes(), p.name).pixels, spec) for p in paths])
    assert torch.equal(train_batch, single) and torch.equal(single, from_bytes)


def test_predictor_and_evaluation_score_what_the_model_sees(test_images, default_predictor):
    paths = test_images["PNEUMONIA"][:3]
    spec = default_predictor.spec
    with torch.inference_mode():
        logits = default_predictor.model(torch.cat([preprocess(load(p).pixels, spec) for p in paths])).squeeze(1)
    expected = calibrated(logits.double().numpy(), default_predictor.bundle.temperature)
    cli = [p.probability for p in default_predictor.predict_sources([(p, str(p)) for p in paths])]
    ev = predictions_for(default_predictor, [Item(p, 1) for p in paths])
    np.testing.assert_allclose(cli, expected, atol=1e-6)
    np.testing.assert_allclose(ev, expected, atol=1e-6)


def test_input_contract_comes_from_model_metadata(default_predictor):
    """Size, channels and normalisation are read from model.json, never hard-coded twice."""
    meta_input = default_predictor.bundle.meta.input
    assert dataclasses.asdict(default_predictor.spec) == meta_input
    x = preprocess(np.full((300, 200), 0.5, np.float32), InputSpec(size=96, channels=3, mean=0.25, std=0.5))
    assert x.shape == (1, 3, 96, 96)
    assert torch.allclose(x, torch.full_like(x, (round(0.5 * 255) / 255 - 0.25) / 0.5))


def test_resize_squashes_to_a_square_without_cropping():
    img = np.zeros((100, 300), np.float32)
    img[:, :10] = 1.0  # a bright band at the far left edge must survive (no centre crop)
    out = resize_square(img, 64)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    assert out[:, 0].min() > 200 and out[:, -1].max() == 0


def test_shifted_validation_scores_clean_images_like_the_predictor(test_images, default_predictor):
    """Model selection and the calibration choice score validation under simulated shift; their
    'clean' condition must be exactly what the product scores, and each shift must change it."""
    from pneumo_core.evaluation.robustness import CORRUPTIONS, shifted_logits, shifted_validation_loss
    from pneumo_core.stats.metrics import balanced_log_loss

    paths = test_images["NORMAL"][:2] + test_images["PNEUMONIA"][:2]
    spec = default_predictor.spec
    images = load_resized([Item(p, 0) for p in paths], spec.size, workers=1)
    logits = shifted_logits(default_predictor.model, images, spec, batch=3, lock=default_predictor.lock)
    assert list(logits) == list(CORRUPTIONS) and all(z.shape == (4,) for z in logits.values())
    expected = calibrated(logits["clean"], default_predictor.bundle.temperature)
    np.testing.assert_allclose([p.probability for p in default_predictor.predict_sources([(p, str(p)) for p in paths])],
                               expected, atol=1e-6)
    for name, z in logits.items():
        assert name == "clean" or not np.allclose(z, logits["clean"]), f"{name} changed nothing"
    labels = np.array([0, 0, 1, 1])
    loss = shifted_validation_loss(default_predictor, images, labels, batch=3)
    assert loss["clean"] == pytest.approx(balanced_log_loss(labels, expected), rel=1e-6)
    assert set(loss) == {*CORRUPTIONS, "mean"} and min(loss.values()) < loss["mean"] < max(loss.values())
