"""One overlay for the app, `predict --cam` and the PDF: the same colours, the radiograph's size."""
import numpy as np
import pytest

from pneumo_core.io.overlay import jet, render_overlay


def test_jet_matches_matplotlibs_jet():
    from matplotlib import colormaps
    v = np.linspace(0, 1, 257)
    # matplotlib looks colours up in a 256-entry table: one entry of the steepest knot is ~0.018 apart
    assert np.abs(jet(v) - colormaps["jet"](v)[:, :3]).max() < 0.02


def test_overlay_is_the_radiographs_size_and_cold_regions_stay_grey():
    gray = np.tile(np.arange(200, dtype=np.uint8), (120, 1))
    heat = np.zeros((7, 7), np.float32)
    heat[3, 3] = 1.0
    out = render_overlay(gray, heat, 0.5)
    assert out.shape == (120, 200, 3) and out.dtype == np.uint8
    assert np.array_equal(out[0, :, 0], out[0, :, 2]) and np.array_equal(out[0, :, 0], gray[0])  # untinted corner row
    assert not np.array_equal(out[60, 100], np.repeat(gray[60, 100], 3))  # the hot centre is coloured


def test_uint8_and_unit_float_images_give_the_same_overlay():
    gray = np.random.default_rng(1).integers(0, 256, (64, 64)).astype(np.uint8)
    heat = np.random.default_rng(0).random((14, 14)).astype(np.float32)
    as_uint8 = render_overlay(gray, heat, 0.7)
    as_float = render_overlay(gray.astype(np.float32) / 255, heat, 0.7)
    assert np.abs(as_float.astype(int) - as_uint8).max() <= 1 and as_uint8.std() > 0


def test_cli_and_app_draw_the_same_overlay(default_predictor, test_images):
    from pneumo_core.app.reading.cases import blend
    from pneumo_core.inference.saliency import explain
    from pneumo_core.io.ingest import load
    rad = load(test_images["PNEUMONIA"][0])
    exp = explain(default_predictor, rad, "gradcam", opacity=0.5)
    app = blend(np.rint(rad.pixels * 255).astype(np.uint8), exp.heatmap, 0.5)
    assert np.abs(exp.overlay.astype(int) - app).max() <= 1


def _no_warm_pixel(rgb: np.ndarray) -> bool:
    """No pixel where red exceeds blue: grey film and blue-grey lines only."""
    return bool((rgb[..., 0].astype(int) <= rgb[..., 2].astype(int)).all())


def test_a_map_explaining_normal_paints_no_finding_colour_only_the_outline_of_its_top_fifth():
    """Issue #29, item 3: a red patch painted on a healthy chest called NORMAL reads as a finding."""
    from pneumo_core.inference.occlusion import top_mask
    from pneumo_core.io.overlay import NEUTRAL_RGB, top_region
    gray = np.full((448, 448), 128, np.uint8)
    heat = np.zeros((224, 224), np.float32)
    heat[40:120, 60:160] = 1.0  # the top region, with a band of tied zeros taken in raster order (rows 0-9)
    assert np.array_equal(top_region(heat, 0.2), top_mask(heat, 0.2))  # the region the check fills
    normal = render_overlay(gray, heat, 1.0, "NORMAL")
    assert _no_warm_pixel(normal) and not _no_warm_pixel(render_overlay(gray, heat, 1.0, "PNEUMONIA"))
    drawn = (normal != 128).any(axis=2)
    assert 0 < drawn.mean() < 0.1 and drawn[80:240, 120].any()  # a line round the region, not a wash
    assert np.array_equal(normal[drawn][0], NEUTRAL_RGB)
    inside = np.asarray(np.kron(top_region(heat, 0.2), np.ones((2, 2))), bool)
    assert not drawn[inside & np.roll(inside, 3, 0) & np.roll(inside, -3, 0) & np.roll(inside, 3, 1)
                     & np.roll(inside, -3, 1)].any()  # the region's inside stays the plain film
    assert np.array_equal(render_overlay(gray, heat, 0.0, "NORMAL"), np.repeat(gray[..., None], 3, axis=2))
    assert np.array_equal(render_overlay(gray, np.zeros_like(heat), 1.0, "NORMAL"),
                          np.repeat(gray[..., None], 3, axis=2))  # an empty map outlines nothing


def test_a_map_that_failed_its_check_is_drawn_dimmed():
    from pneumo_core.io.overlay import DIMMED
    gray = np.full((64, 64), 100, np.uint8)
    heat = np.random.default_rng(0).random((14, 14)).astype(np.float32)
    full = np.abs(render_overlay(gray, heat, 0.8).astype(float) - 100).mean()
    dim = np.abs(render_overlay(gray, heat, 0.8, dimmed=True).astype(float) - 100).mean()
    assert dim == pytest.approx(DIMMED * full, rel=0.05)
