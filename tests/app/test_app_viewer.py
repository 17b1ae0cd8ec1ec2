"""Tests for pneumo_core.app.reading.viewer and the wording of pneumo_core.app.reading.case_view: the
display never reaches the scored film, and side-by-side panels zoom together.

Each test name says the failure it guards against.
"""
from __future__ import annotations

import numpy as np
import pytest

from pneumo_core.app.reading import case_view, viewer


def _film() -> np.ndarray:
    return np.tile(np.arange(256, dtype=np.uint8), (40, 1))


def test_the_default_window_shows_the_film_unchanged():
    film = _film()
    assert np.array_equal(viewer.window_level(film, 128, 256), film)


def test_a_narrow_window_stretches_contrast_around_the_level_and_clips_outside_it():
    out = viewer.window_level(_film(), 100, 50)[0]
    assert out[74] == 0 and out[126] == 255 and int(out[100]) == pytest.approx(128, abs=3)
    assert np.all(np.diff(out.astype(int)) >= 0)  # monotone: no grey level swaps places


def test_window_level_leaves_the_film_it_was_given_untouched():
    film = _film()
    copy = film.copy()
    viewer.window_level(film, 60, 10)
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
