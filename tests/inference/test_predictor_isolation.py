"""One film that fails after decoding never takes its batch down (issue #27): whatever step
breaks on it (preparation, orientation check, model, out-of-distribution check, input gate),
that film gets its own error line naming the step in our words, and the films beside it get
the same result they get without it. Plus the two files that took whole batches down."""
from __future__ import annotations

import numpy as np
import pytest

from pneumo_core.inference import predictor as predictor_module
from pneumo_core.inference import scoring_steps
from pneumo_core.inference.predictor import FAILED_PREFIX
from pneumo_core.io.limits import BLANK_WARNING, NON_FINITE

from harness import hostile_files as hf

POISON_LEVEL = 123  # the poisoned film is flat at this grey level, so every step can tell it apart


class Sabotage(RuntimeError):
    """What the sabotaged step raises; its text must never reach the film's line."""

    def __init__(self) -> None:
        super().__init__(f"internal detail that must not be shown: {hf.PATIENT}")


def _poisoned(images_u8: np.ndarray) -> bool:
    flat = np.asarray(images_u8).reshape(len(images_u8), -1)
    return bool((flat == POISON_LEVEL).all(axis=1).any())


@pytest.fixture(scope="module")
def films(test_images) -> list[tuple[bytes, str]]:
    good = [p.read_bytes() for p in (test_images["NORMAL"][:2] + test_images["PNEUMONIA"][:2])]
    poison = hf.png(256, POISON_LEVEL)
    return [(good[0], "a.jpeg"), (good[1], "b.jpeg"), (poison, "poison.png"), (good[2], "c.jpeg"), (good[3], "d.jpeg")]


@pytest.fixture(scope="module")
def baseline(default_predictor, films, one_torch_thread) -> list[float | None]:
    return [p.probability for p in default_predictor.predict_sources(films, batch_size=8)]


def _sabotage(step: str, predictor, monkeypatch) -> None:
    """Make `step` raise on the poisoned film only (and on any batch that holds it)."""
    if step == "preparation":
        def check(r):
            if np.all(np.rint(r.pixels * 255) == POISON_LEVEL):
                raise Sabotage()
            return None
        monkeypatch.setattr(predictor, "ood_checks", predictor.ood_checks + (check,))
    elif step == "orientation check":
        real = predictor_module.assess_batch

        def assess(head, images, *args, **kwargs):
            if _poisoned(images):
                raise Sabotage()
            return real(head, images, *args, **kwargs)
        monkeypatch.setattr(predictor_module, "assess_batch", assess)
    elif step in ("model", "out-of-distribution check"):
        poison_features = predictor._source_features(np.full((1, predictor.spec.size, predictor.spec.size),
                                                             POISON_LEVEL, np.uint8))[0]

        def holds_poison(features: np.ndarray) -> bool:
            return bool(np.isclose(features, poison_features, atol=1e-3).all(axis=1).any())
        name = "_calibrated" if step == "model" else "_ood_terms"
        real = getattr(predictor, name)

        def sabotaged(features, *args):
            if holds_poison(features):
                raise Sabotage()
            return real(features, *args)
        monkeypatch.setattr(predictor, name, sabotaged)
    elif step == "input gate":
        real = scoring_steps.decide

        def decide(reasons, *args):
            if BLANK_WARNING in reasons:
                raise Sabotage()
            return real(reasons, *args)
        monkeypatch.setattr(scoring_steps, "decide", decide)


@pytest.mark.parametrize("step", ["preparation", "orientation check", "model", "out-of-distribution check",
                                  "input gate"])
def test_a_step_failing_on_one_film_costs_only_that_films_line(step, default_predictor, films, baseline,
                                                               monkeypatch, one_torch_thread):
    _sabotage(step, default_predictor, monkeypatch)
    preds = list(default_predictor.predict_sources(films, batch_size=8))
    assert [p.file for p in preds] == [name for _, name in films]
    poison = preds[2]
    assert poison.status == "error" and poison.probability is None
    assert poison.error == (f"{FAILED_PREFIX} the {step} failed on this film (Sabotage); "
                            "no call on what cannot be read")
    others = [p.probability for i, p in enumerate(preds) if i != 2]
    assert None not in others
    assert others == pytest.approx([b for i, b in enumerate(baseline) if i != 2], abs=1e-5)


def test_a_step_failing_on_a_decoded_film_in_predict_radiographs_is_that_films_error(default_predictor, films,
                                                                                     monkeypatch, one_torch_thread):
    """The Diagnose page's door: decoded films handed over directly."""
    from pneumo_core.io.ingest import load
    _sabotage("model", default_predictor, monkeypatch)
    rads = [load(data) for data, _ in films[1:4]]
    preds = default_predictor.predict_radiographs(rads, ["b", "poison", "c"])
    assert [p.status for p in preds] == ["scored", "error", "scored"]
    assert preds[1].error.startswith(f"{FAILED_PREFIX} the model failed")


def test_a_float_dicom_holding_infinity_is_refused_and_the_batch_is_scored(default_predictor, films,
                                                                           one_torch_thread):
    """Regression: Float Pixel Data with +-inf decoded, then the OOD check raised for the batch."""
    sources = [films[0], (hf.float_dicom_with_infinity(), hf.PATIENT + ".dcm"), films[1]]
    preds = list(default_predictor.predict_sources(sources, batch_size=8))
    assert [p.status for p in preds] == ["scored", "error", "scored"]
    assert preds[1].error == NON_FINITE


def test_a_float_tiff_reaching_3e38_is_read_without_nan_and_the_batch_is_scored(default_predictor, films,
                                                                                one_torch_thread):
    """Regression: values to +-3e38 overflowed the min-max stretch into NaN."""
    sources = [films[0], (hf.extreme_float_tiff(), "extreme.tif"), films[1]]
    preds = list(default_predictor.predict_sources(sources, batch_size=8))
    assert preds[0].status == preds[2].status == "scored"
    assert preds[1].error is None  # read: the gate, not an exception, decides whether it gets a call
    assert preds[1].model_input is not None and preds[1].model_input.dtype == np.uint8


def test_a_film_failing_in_a_site_sample_is_listed_with_its_reason_and_the_others_are_kept(
        default_predictor, films, monkeypatch, one_torch_thread):
    """The site-calibration and drift door (`score_batch`): the failed film is named, never dropped silently."""
    from pneumo_core.inference.batch import score_batch
    _sabotage("out-of-distribution check", default_predictor, monkeypatch)
    batch = score_batch(default_predictor, films)
    assert list(batch.kept) == [0, 1, 3, 4]
    assert batch.failed == [("poison.png", f"{FAILED_PREFIX} the out-of-distribution check failed on this film "
                                           "(Sabotage); no call on what cannot be read")]
