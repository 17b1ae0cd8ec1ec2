"""One overlay for the app, `predict --cam` and the PDF: the same colours, the radiograph's size."""
import numpy as np

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
