"""A PNEUMONIA map is drawn from its own minimum, and its faint tail is transparent: the film
is not tinted where the map is weakest (the walk-through saw a faint wash over every film)."""
import numpy as np

from pneumo_core.io.overlay import TRANSPARENT_BELOW, overlay_legend, render_overlay


def _film() -> np.ndarray:
    return np.random.default_rng(3).integers(30, 220, (140, 140)).astype(np.uint8)


def test_a_cell_at_the_maps_minimum_leaves_the_films_pixels_unchanged():
    heat = np.full((14, 14), 0.3, np.float32)  # a map whose minimum is well above 0
    heat[6:8, 6:8] = 1.0
    film = _film()
    out = render_overlay(film, heat, 1.0)
    corner = out[:40, :40]  # cells at the minimum, far from the hot ones
    assert np.array_equal(corner, np.repeat(film[:40, :40, None], 3, axis=2))
    assert not np.array_equal(out[70, 70], np.repeat(film[70, 70], 3))  # the map's maximum is coloured


def test_cells_below_the_transparency_floor_leave_the_film_untinted_and_those_above_are_drawn():
    heat = np.zeros((14, 14), np.float32)
    heat[:, :7] = 0.9 * TRANSPARENT_BELOW  # faint: the left half
    heat[:, 7:] = 0.5  # clearly highlighted: the right half
    heat[0, 13] = 1.0
    film = _film()
    out = render_overlay(film, heat, 0.6).astype(int)
    grey = np.repeat(film[..., None], 3, axis=2).astype(int)
    assert np.array_equal(out[:, :60], grey[:, :60])
    assert np.abs(out[20:, 90:] - grey[20:, 90:]).mean() > 5


def test_a_flat_map_draws_nothing():
    film = _film()
    out = render_overlay(film, np.full((14, 14), 0.7, np.float32), 1.0)
    assert np.array_equal(out, np.repeat(film[..., None], 3, axis=2))


def test_the_legend_says_what_is_left_untinted():
    assert overlay_legend("PNEUMONIA") == "red: strongest, untinted: its faintest 10% of range"
