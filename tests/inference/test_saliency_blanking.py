"""Tests for the blanking rules (inference.occlusion: flat and infill), the occlusion map and
saliency.blanking_check: the one-pass check the app shows beside each heatmap."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pneumo_core.calibration.site import resolve_profile
from pneumo_core.data.preprocess import preprocess_batch
from pneumo_core.inference.occlusion import (blank, cell_masks, class_logits, grid_edges, infill, occlusion_map,
                                            pool_to_cells, top_mask)
from pneumo_core.inference.predictor import Predictor
from pneumo_core.inference.saliency import METHODS, BlankingCheck, blanking_check, explain
from pneumo_core.io.ingest import Radiograph, load


@pytest.fixture(scope="module")
def lite0(one_torch_thread) -> Predictor:
    return Predictor("efficientnet_lite0")


def test_top_mask_takes_exactly_the_fraction_and_the_hottest_pixels():
    heat = np.arange(100, dtype=np.float32).reshape(10, 10) / 99
    mask = top_mask(heat, 0.2)
    assert mask.sum() == 20 and mask[8:].all() and not mask[:8].any()
    flat = np.zeros((10, 10), np.float32)  # all ties: raster order, the same mask every call
    np.testing.assert_array_equal(top_mask(flat, 0.3), top_mask(flat, 0.3))
    with pytest.raises(ValueError):
        top_mask(heat, 1.5)


def test_blank_sets_only_masked_pixels_to_the_image_mean():
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True
    out = blank(x, mask)
    assert out.shape == (1, 1, 4, 4)
    assert torch.all(out[0, 0, 0, :2] == 7.5) and torch.equal(out[0, 0][~torch.from_numpy(mask)], x[0, 0][~torch.from_numpy(mask)])
    assert torch.equal(x, torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4))  # input untouched


def test_infill_keeps_unmasked_pixels_and_fills_a_bright_patch_with_the_film_around_it():
    x = torch.zeros(1, 1, 64, 64)
    x[..., :, 32:] = 1.0  # dark left half, bright right half
    x[..., 20:28, 8:16] = 5.0  # a bright "opacity" in the dark half
    mask = np.zeros((64, 64), bool)
    mask[20:28, 8:16] = True
    out = infill(x, mask)
    keep = torch.from_numpy(~mask)
    assert torch.equal(out[0, 0][keep], x[0, 0][keep])  # only masked pixels change
    assert float(out[0, 0][torch.from_numpy(mask)].max()) < 0.5  # filled from the dark lung around it, not grey
    assert torch.equal(infill(x, np.ones((64, 64), bool)), blank(x, np.ones((64, 64), bool)))  # nothing left: the mean


def test_pooled_map_is_constant_per_cell_and_keeps_each_cells_mean():
    heat = np.random.default_rng(0).random((224, 224)).astype(np.float32)
    pooled = pool_to_cells(heat, 14)
    for c in cell_masks(224, 14)[:20]:
        assert np.ptp(pooled[c]) == 0 and pooled[c][0] == pytest.approx(heat[c].mean(), rel=1e-5)


def test_grid_cells_partition_the_image_even_when_the_size_does_not_divide():
    for size, grid in ((224, 14), (128, 14), (224, 7)):
        cells = cell_masks(size, grid)
        assert cells.shape == (grid * grid, size, size)
        np.testing.assert_array_equal(cells.sum(axis=0), 1)  # every pixel in exactly one cell
    assert list(np.diff(grid_edges(224, 14))) == [16] * 14


def test_occlusion_map_is_constant_per_cell_and_its_hottest_cell_drops_the_logit_most(lite0, test_images):
    u8 = lite0.predict_radiographs([load(test_images["PNEUMONIA"][0])], ["p"])[0].model_input
    x = preprocess_batch(u8[None], lite0.spec)
    heat, raw_max, logit = occlusion_map(lite0, x, 7, lambda z: 1)
    cells = cell_masks(224, 7)
    values = np.array([heat[c].max() for c in cells])
    assert all(np.ptp(heat[c]) == 0 for c in cells) and values.max() == 1.0
    z = class_logits(lite0, blank(x, cells))
    assert int(np.argmax(logit - z)) == int(np.argmax(values))
    assert raw_max == pytest.approx(float(np.max(logit - z)), rel=1e-5)


def test_blanking_check_is_one_infill_pass_over_the_map_top_fifth_and_says_so(lite0, test_images):
    pred = lite0.predict_radiographs([load(test_images["PNEUMONIA"][1])], ["p"])[0]
    exp = explain(lite0, pred.model_input, "gradcam")
    check = blanking_check(lite0, exp)
    assert isinstance(check, BlankingCheck) and check.fraction == 0.2 and check.target_class == exp.target_class
    assert check.p_before == pytest.approx(pred.probability, abs=1e-4)
    x = preprocess_batch(pred.model_input[None], lite0.spec)
    by_hand = lite0.probabilities(class_logits(lite0, infill(x, top_mask(exp.heatmap, 0.2))))[0]
    assert check.p_after == pytest.approx(by_hand, abs=1e-9)
    assert check.text.startswith(f"filling the highlighted region in from the film around it changes P(pneumonia) "
                                 f"from {check.p_before:.2f} to {check.p_after:.2f}: ")


@pytest.mark.parametrize("called, before, after, words", [
    ("PNEUMONIA", 0.93, 0.41, "carries much of the PNEUMONIA call"),
    ("NORMAL", 0.08, 0.40, "carries much of the NORMAL call"),
    ("NORMAL", 0.08, 0.09, "the NORMAL call does not rest on this region alone"),
    ("NORMAL", 0.08, 0.01, "the NORMAL call does not rest on this region alone"),  # moved away from PNEUMONIA
    ("PNEUMONIA", 0.93, 0.88, "carries some of the PNEUMONIA call"),
])
def test_check_sentence_speaks_of_the_class_that_was_called(called, before, after, words):
    """A NORMAL call whose highlighted region, filled in, raises P(pneumonia) is evidence for
    NORMAL there: the sentence must say so rather than read as an alarm."""
    assert words in BlankingCheck(before, after, 0.2, called).text


def test_with_a_site_profile_map_and_check_use_the_site_probability_like_the_prediction(test_images, one_torch_thread):
    site = resolve_profile("kermany-test", Path(__file__).resolve().parents[2] / "weights" / "efficientnet_lite0")
    pred_site = Predictor("efficientnet_lite0", site=site)
    pred = pred_site.predict_radiographs([load(test_images["NORMAL"][0])], ["n"])[0]
    exp = explain(pred_site, pred.model_input, "gradcam")
    assert exp.probability == pytest.approx(pred.probability, abs=1e-4)
    assert exp.target_class == pred.label  # the class shown is decided on the site's scale and thresholds
    assert blanking_check(pred_site, exp).p_before == pytest.approx(pred.probability, abs=1e-4)


def test_occlusion_is_offered_as_a_class_specific_method(lite0, test_images):
    assert METHODS["occlusion"].class_specific and METHODS["occlusion"].label
    u8 = lite0.predict_radiographs([Radiograph(load(test_images["NORMAL"][2]).pixels, "JPEG")], ["n"])[0].model_input
    pneu, norm = explain(lite0, u8, "occlusion", target="PNEUMONIA"), explain(lite0, u8, "occlusion", target="NORMAL")
    assert pneu.heatmap.shape == (224, 224) and pneu.heatmap.max() <= 1.0
    assert not np.array_equal(pneu.heatmap, norm.heatmap)  # the sign of the explained class matters
    assert "blanking" in pneu.note and "PNEUMONIA" in pneu.note and "NORMAL" in norm.note


def test_the_infill_blur_is_the_zero_padded_separable_gaussian_convolution():
    """The blur is two products with a banded matrix, for speed; it must sum what a
    zero-padded 97-tap convolution sums, edges included."""
    import torch

    from pneumo_core.inference.occlusion import _gauss_blur
    x = torch.rand(2, 1, 224, 224, generator=torch.Generator().manual_seed(0))
    sigma = 224 / 14
    r = int(3 * sigma)
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / sigma) ** 2)
    k = k / k.sum()
    conv = torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1), padding=(0, r))
    conv = torch.nn.functional.conv2d(conv, k.view(1, 1, -1, 1), padding=(r, 0))
    assert torch.allclose(_gauss_blur(x, sigma), conv, atol=1e-5)
    assert not torch.allclose(_gauss_blur(x, sigma / 2), conv, atol=1e-3)  # the width matters


def test_occlusion_map_given_the_unoccluded_logit_skips_that_pass_and_draws_the_same_map(lite0, test_images,
                                                                                         monkeypatch):
    import pneumo_core.inference.occlusion as occlusion
    u8 = lite0.predict_radiographs([load(test_images["NORMAL"][0])], ["n"])[0].model_input
    x = preprocess_batch(u8[None], lite0.spec)
    scored = []
    real = occlusion.class_logits
    monkeypatch.setattr(occlusion, "class_logits", lambda p, xs, *a: scored.append(len(xs)) or real(p, xs, *a))
    heat, raw_max, logit = occlusion_map(lite0, x, 3, lambda z: 0)
    assert scored == [10]  # the film, then its 9 cells
    again, again_max, same_logit = occlusion_map(lite0, x, 3, lambda z: 0, logit=logit)
    assert scored == [10, 9] and same_logit == logit
    np.testing.assert_allclose(again, heat, atol=1e-5)
    assert again_max == pytest.approx(raw_max, rel=1e-5)


def test_layercam_times_coarse_occlusion_costs_the_cam_and_nine_passes(lite0, test_images, monkeypatch):
    import pneumo_core.inference.occlusion as occlusion
    scored = []
    real = occlusion.class_logits
    monkeypatch.setattr(occlusion, "class_logits", lambda p, xs, *a: scored.append(len(xs)) or real(p, xs, *a))
    pred = lite0.predict_radiographs([load(test_images["PNEUMONIA"][2])], ["p"])[0]
    exp = explain(lite0, pred.model_input, "layercam-occ3", target=pred.label)
    assert scored == [9] and exp.probability == pytest.approx(pred.probability, abs=1e-4)


def test_batched_logits_come_in_even_batches_and_equal_one_at_a_time(lite0, test_images, monkeypatch):
    u8 = lite0.predict_radiographs([load(test_images["PNEUMONIA"][0])], ["p"])[0].model_input
    x = blank(preprocess_batch(u8[None], lite0.spec), cell_masks(224, 3))  # 9 inputs
    one_by_one = class_logits(lite0, x, 1)
    sizes = []
    real_forward = lite0.model.forward
    monkeypatch.setattr(lite0.model, "forward", lambda xb: sizes.append(len(xb)) or real_forward(xb))
    batched = class_logits(lite0, x, 5)
    assert sizes == [5, 4]
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)
    sizes.clear()
    class_logits(lite0, x, 4)
    assert sizes == [3, 3, 3]  # not 4, 4 and a lone 1
