"""Tests for pneumo_core.app.reading.viewer and the wording of pneumo_core.app.reading.case_view: the
display never reaches the scored film, and side-by-side panels zoom together.

Each test name says the failure it guards against.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from pneumo_core.app.reading import case_view, viewer


def _film() -> np.ndarray:
    return np.tile(np.arange(256, dtype=np.uint8), (40, 1))


def test_the_default_window_shows_the_film_unchanged():
    film = _film()
    assert np.array_equal(viewer.window_level(film, 128, 256), film)
    default = viewer.Display(*viewer.PRESETS["default"])
    assert np.array_equal(viewer.window_level(film, default.centre, default.width), film)


def _mean_shown(level: int, width: int = 128) -> float:
    d = viewer.Display(level, width)
    return float(viewer.window_level(_film(), d.centre, d.width, d.invert).mean())


def test_raising_the_level_brightens_the_film_not_darkens_it():
    """Issue #29, item 6: raising "Level (brightness)" darkened the film."""
    means = [_mean_shown(level) for level in (40, 100, 128, 160, 220)]
    assert all(b > a for a, b in zip(means, means[1:])), means


def test_invert_swaps_black_and_white_of_the_windowed_film():
    film = _film()
    plain = viewer.window_level(film, 100, 50)
    assert np.array_equal(viewer.window_level(film, 100, 50, invert=True), 255 - plain)


@pytest.mark.parametrize("preset", ["lung", "mediastinum"])
def test_each_preset_stretches_contrast_where_its_anatomy_lies(preset):
    """Lung lies in the dark half of an 8-bit chest film, the mediastinum in the bright half:
    a preset that stretched the wrong half would show its anatomy clipped flat."""
    d = viewer.Display(*viewer.PRESETS[preset])
    out = viewer.window_level(_film(), d.centre, d.width)[0].astype(int)
    half = slice(30, 110) if preset == "lung" else slice(150, 230)
    default_slope = 1.0
    assert np.mean(np.diff(out[half])) > 1.2 * default_slope  # more contrast there than the film as it is
    assert len(np.unique(out[half])) == half.stop - half.start  # and no grey level there clipped together


def test_a_narrow_window_stretches_contrast_around_the_level_and_clips_outside_it():
    out = viewer.window_level(_film(), 100, 50)[0]
    assert out[74] == 0 and out[126] == 255 and int(out[100]) == pytest.approx(128, abs=3)
    assert np.all(np.diff(out.astype(int)) >= 0)  # monotone: no grey level swaps places


def test_window_level_leaves_the_film_it_was_given_untouched():
    film = _film()
    copy = film.copy()
    viewer.window_level(film, 60, 10, invert=True)
    assert np.array_equal(film, copy)


def test_side_by_side_panels_share_their_axes_so_a_zoom_moves_both():
    heat = np.zeros((7, 7), np.float32)
    heat[3, 3] = 1
    fig = viewer.film_figure(_film(), heat, viewer.Display(view="side by side"))
    assert len(fig.data) == 2 and fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.matches == "y"
    assert [a.text for a in fig.layout.annotations] == ["film", "heatmap"]


@pytest.mark.parametrize("view", viewer.VIEWS)
def test_every_view_is_one_zoomable_image_figure(view):
    fig = viewer.film_figure(_film(), np.zeros((7, 7), np.float32), viewer.Display(view=view))
    assert all(t.type == "image" for t in fig.data) and fig.layout.dragmode == "pan"


def test_without_a_heatmap_the_film_is_shown_alone_whatever_the_view():
    fig = viewer.film_figure(_film(), None, viewer.Display(view="side by side"))
    assert len(fig.data) == 1


@pytest.mark.parametrize("warning, shown", [
    ("out of distribution: unlike the training radiographs", "**Out of distribution:** unlike the training radiographs"),
    ("not assessed: not a chest radiograph", "**Not assessed:** not a chest radiograph"),
    ("image has colour", "Image has colour"),
])
def test_a_warnings_heading_is_said_once(warning, shown):
    assert case_view.warning_text(warning) == shown


def test_every_listed_key_is_one_streamlit_accepts_and_none_is_used_twice():
    """Streamlit refuses "R" and "C" (its own rerun and cache keys) and punctuation; a key
    bound twice would fire two buttons."""
    from streamlit.elements.lib.shortcut_utils import normalize_shortcut
    assert all(normalize_shortcut(k) for k in viewer.KEYS.values())
    assert len(set(viewer.KEYS.values())) == len(viewer.KEYS)


def test_the_page_lists_every_key_it_binds():
    caption = viewer.keys_caption(heatmap=True)
    assert all(f"{k} " in caption or f"{k}/" in caption or f"/{k} " in caption for k in viewer.KEYS.values()), caption


# --- the viewer on the Diagnose page, driven by AppTest -------------------------------------------------------

def _film_shown(at) -> np.ndarray:
    """The grey film the page sent to the browser (the first chart's image, decoded)."""
    import base64
    import io
    import json

    from PIL import Image
    source = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["source"]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("L"), np.int16)


@pytest.fixture(scope="module")
def one_case():
    """The Diagnose page with one example film scored, its heatmap turned off (the film alone)."""
    from conftest import run_app

    from pneumo_core.app.runtime import paths
    film = paths.example_files()[0]
    at = run_app(viewer_view="film")
    at.file_uploader[0].set_value([(film.name, film.read_bytes(), "image/jpeg")]).run()
    assert not at.exception
    return at


def test_a_preset_sets_level_and_window_and_the_film_sent_changes_with_them(one_case):
    at = one_case
    at.button(key="viewer_reset").click().run()
    plain = _film_shown(at)
    at.button(key="viewer_preset_lung").click().run()
    assert not at.exception
    assert (at.slider(key="viewer_level").value, at.slider(key="viewer_width").value) == viewer.PRESETS["lung"]
    lung = _film_shown(at)
    assert lung.mean() > plain.mean() + 10  # the dark half (lung) stretched up: the film shown brightens
    at.button(key="viewer_preset_mediastinum").click().run()
    assert _film_shown(at).mean() < plain.mean() - 10  # the bright half stretched: darker overall


def test_invert_sends_the_negative_and_reset_brings_back_the_film_as_scored(one_case):
    at = one_case
    at.button(key="viewer_reset").click().run()
    plain = _film_shown(at)
    at.button(key="viewer_invert_button").click().run()
    assert not at.exception and at.session_state["viewer_invert"]
    assert np.abs(_film_shown(at) - (255 - plain)).max() <= 1
    at.slider(key="viewer_level").set_value(200).run()
    at.slider(key="viewer_width").set_value(60).run()
    at.button(key="viewer_reset").click().run()
    assert (at.slider(key="viewer_level").value, at.slider(key="viewer_width").value) == viewer.PRESETS["default"]
    assert not at.session_state["viewer_invert"] and np.array_equal(_film_shown(at), plain)


def test_raising_the_level_slider_brightens_the_film_the_page_sends(one_case):
    """Issue #29, item 6, through the page: the slider, not only the function."""
    at = one_case
    at.button(key="viewer_reset").click().run()
    at.slider(key="viewer_width").set_value(128).run()
    means = []
    for level in (90, 128, 170):
        at.slider(key="viewer_level").set_value(level).run()
        means.append(_film_shown(at).mean())
    assert means[0] < means[1] < means[2], means


def test_the_heatmap_key_turns_the_map_off_and_back_on_in_the_view_chosen(one_case):
    at = one_case
    at.segmented_control(key="viewer_view").set_value("side by side").run()
    at.button(key="viewer_heatmap_button").click().run()
    assert at.session_state["viewer_view"] == "film" and len(json.loads(at.get("plotly_chart")[0].proto.spec)["data"]) == 1
    at.button(key="viewer_heatmap_button").click().run()
    assert at.session_state["viewer_view"] == "side by side"
    at.segmented_control(key="viewer_view").set_value("film").run()


def test_the_keys_are_bound_to_the_page_buttons_and_listed_on_the_page(one_case):
    """No key did anything (→, n, j, PageDown); the keys are Streamlit's button shortcuts."""
    at = one_case
    bound = {b.key: b.proto.shortcut for b in at.button if b.proto.shortcut}
    assert bound["case_next"] == "n" and bound["case_prev"] == "p"
    assert {bound["viewer_reset"], bound["viewer_invert_button"], bound["viewer_heatmap_button"]} == {"0", "i", "h"}
    assert any(c.value.startswith("Keys: N next case") for c in at.caption)
