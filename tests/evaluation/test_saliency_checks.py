"""Tests for the faithfulness measures in pneumo_core.evaluation.saliency_checks (the
functions benchmarks/saliency_faithfulness.py reports): each named for the mistake it catches."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pneumo_core.calibration import calibrated
from pneumo_core.data.preprocess import preprocess_batch
from pneumo_core.evaluation.saliency_checks import DRAWS, FRACTION, GRID, film_baseline, random_grid_masks, score_map
from pneumo_core.inference.occlusion import cell_masks, top_mask
from pneumo_core.inference.predictor import Predictor
from pneumo_core.inference.saliency import BlankingCheck, blanking_check, explain
from pneumo_core.io.ingest import load


@pytest.fixture(scope="module")
def paper(one_torch_thread) -> Predictor:
    return Predictor("paper_cnn", gate=False)


@pytest.fixture(scope="module")
def film(paper, test_images):
    return paper.predict_radiographs([load(test_images["PNEUMONIA"][0])], ["p"])[0]


def test_random_grid_masks_are_whole_cells_covering_the_fraction():
    masks = random_grid_masks(224, 0.2, np.random.default_rng(0), draws=5, grid=14)
    cells = cell_masks(224, 14)
    assert masks.shape == (5, 224, 224)
    for m in masks:
        covered = [bool(m[c].all()) for c in cells]
        assert sum(covered) == 39 and all(m[c].all() or not m[c].any() for c in cells)  # 39/196 cells, none cut
    assert len({m.tobytes() for m in masks}) == 5  # five different draws


def test_curves_start_and_end_where_the_protocol_says(paper, film):
    base = film_baseline(paper, film.model_input, np.random.default_rng(0))
    assert base.target_class == film.label
    heat = explain(paper, film.model_input, "gradcam", target=base.target_class).heatmap
    s = score_map(paper, base, heat)
    t = paper.bundle.temperature
    p_class = calibrated(np.array([base.sign * base.logit]), t)[0]
    assert len(s["deletion"]) == len(s["insertion"]) == 11
    assert s["deletion"][0] == pytest.approx(p_class) and s["insertion"][-1] == pytest.approx(p_class)
    assert s["deletion"][-1] == pytest.approx(calibrated(np.array([base.sign * base.end_logits[0]]), t)[0])
    assert s["insertion"][0] == pytest.approx(calibrated(np.array([base.sign * base.end_logits[1]]), t)[0])
    assert 0.0 <= s["deletion_auc"] <= 1.0 and 0.0 <= s["insertion_auc"] <= 1.0
    inf = s["infill"]  # the on-film perturbation: same start, same all-blanked end
    assert len(inf["deletion"]) == 11 and inf["deletion"][0] == pytest.approx(p_class)
    assert inf["deletion"][-1] == pytest.approx(s["deletion"][-1])


def _flat_logits(predictor, model_input, masks) -> np.ndarray:
    """Raw logits of the film with each mask's pixels set to the standardised film's mean, by hand."""
    x = preprocess_batch(np.asarray(model_input, np.uint8)[None], predictor.spec)
    films = x.repeat(len(masks), 1, 1, 1)
    for film, mask in zip(films, masks):
        film[:, torch.from_numpy(mask)] = x.mean()
    with torch.inference_mode():
        return predictor.model(films).reshape(-1).double().numpy()


def test_top_and_random_drops_are_the_class_scores_lost_to_the_blanked_regions(paper, film):
    """The drops, made again by hand: the film with the map's top 20% blanked flat, and with
    each of the baseline's random grid draws (the same generator, the same draws), scored by the
    network itself."""
    base = film_baseline(paper, film.model_input, np.random.default_rng(0))
    heat = explain(paper, film.model_input, "gradcam", target=base.target_class).heatmap
    s = score_map(paper, base, heat)
    size = film.model_input.shape[-1]
    (top,) = _flat_logits(paper, film.model_input, top_mask(heat, FRACTION)[None])
    random = _flat_logits(paper, film.model_input, random_grid_masks(size, FRACTION, np.random.default_rng(0),
                                                                     DRAWS, GRID))
    assert s["top_drop"] == pytest.approx(base.sign * (base.logit - top), abs=1e-3)
    assert s["random_drop"] == pytest.approx(np.mean(base.sign * (base.logit - random)), abs=1e-3)
    assert s["top_beats_random"] == (base.sign * (base.logit - top) > np.mean(base.sign * (base.logit - random)))


def test_benchmark_top_infill_is_the_apps_blanking_check(paper, film):
    """One rule per perturbation: the benchmark's top-20% infill drop is the drop the app's
    check line shows."""
    exp = explain(paper, film.model_input, "gradcam", target=film.label)
    base = film_baseline(paper, film.model_input, np.random.default_rng(0))
    s = score_map(paper, base, exp.heatmap)
    check = blanking_check(paper, exp)
    assert isinstance(check, BlankingCheck)
    t = paper.bundle.temperature
    s = s["infill"]
    assert s["deletion"][2] == pytest.approx(check.p_after if base.sign > 0 else 1 - check.p_after, abs=1e-6)
    assert s["top_drop"] == pytest.approx(base.sign * t * (np.log(check.p_before / (1 - check.p_before))
                                                           - np.log(check.p_after / (1 - check.p_after))), abs=1e-3)


def test_a_map_pointing_at_nothing_does_not_beat_one_pointing_at_the_evidence(paper, film):
    base = film_baseline(paper, film.model_input, np.random.default_rng(1))
    good = explain(paper, film.model_input, "occlusion", target=base.target_class).heatmap
    s_good, s_inverse = score_map(paper, base, good), score_map(paper, base, 1.0 - good)
    assert s_good["top_drop"] > s_inverse["top_drop"]
    assert s_good["deletion_auc"] < s_inverse["deletion_auc"]


def test_fraction_off_the_curve_grid_is_refused(paper, film):
    base = film_baseline(paper, film.model_input, np.random.default_rng(0))
    with pytest.raises(ValueError):
        score_map(paper, base, np.zeros((128, 128), np.float32), fraction=0.25)


def test_the_pages_check_fills_the_same_region_as_the_blanking_check_and_keeps_the_unsaturated_logit(paper, film):
    """`filled_logit` is the page's check (`reporting.region_check`): the same one pass as
    `blanking_check`, kept as a logit, which P(pneumonia) would round to 0 or 1."""
    from pneumo_core.evaluation.saliency_checks import filled_logit
    exp = explain(paper, film.model_input, "gradcam", target=film.label)
    after = filled_logit(paper, exp.model_input, exp.heatmap)
    assert paper.probabilities([after])[0] == pytest.approx(blanking_check(paper, exp).p_after, abs=1e-9)
    assert after != pytest.approx(exp.logit)  # the fill changed the film the model saw
