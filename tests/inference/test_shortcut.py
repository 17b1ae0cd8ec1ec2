"""The shortcut check's facts (`inference.shortcut`): where a map's strongest cell lies (on a
burned-in marker, outside the body, or neither) and what filling it in does to the logit."""
import json

import numpy as np
import pytest

from pneumo_core.data.preprocess import resize_square
from pneumo_core.inference.markers import detect_markers
from pneumo_core.inference.shortcut import GRID, find_shortcut, infilled_logits, strongest_cell
from pneumo_core.io.ingest import load

from conftest import REPO

DATA = REPO.parent / "shared" / "data" / "chest_xray"
LABELS = json.loads((REPO / "data" / "marker_labels_val.json").read_text())  # hand-marked validation films

CELL = 224 // GRID


def _film(index: int) -> np.ndarray:
    return resize_square(load(DATA / LABELS["films"][index]["file"]).pixels, 224)


def _peaked_at(row: int, col: int) -> np.ndarray:
    heat = np.zeros((224, 224), np.float32)
    heat[row, col] = 1.0  # one hot pixel: its cell is the strongest
    return heat


def test_the_strongest_cell_is_the_hottest_cell_not_the_hottest_pixel():
    heat = np.zeros((224, 224), np.float32)
    heat[5, 5] = 1.0  # a one-pixel spike
    heat[100:116, 112:128] = 0.5  # a whole cell, warm
    assert strongest_cell(heat) == (96, 112, 112, 128)  # the cell holding most of the warm block


def test_a_map_peaked_on_a_marker_is_flagged_and_filling_the_marker_in_is_scored(default_predictor):
    film = _film(0)
    marker = detect_markers(film)[0]
    found = find_shortcut(default_predictor, film, _peaked_at((marker.top + marker.bottom) // 2,
                                                               (marker.left + marker.right) // 2))
    assert found.on_marker and found.flagged and found.markers_on_film >= 1
    film_logit, _ = infilled_logits(default_predictor, film, np.zeros((1, 224, 224), bool))
    assert found.logit_before == pytest.approx(film_logit, abs=1e-4)
    assert found.logit_after is not None


def test_a_map_peaked_on_the_lungs_is_not_flagged_and_costs_no_forward_pass(default_predictor):
    found = find_shortcut(default_predictor, _film(0), _peaked_at(120, 70))
    assert not found.flagged and found.logit_before is None and found.logit_after is None


def test_a_map_peaked_on_the_background_beside_the_patient_is_outside_the_body(default_predictor):
    film = _film(4)  # a film with dark background down its left edge, its marker at mid-height
    found = find_shortcut(default_predictor, film, _peaked_at(210, 3))
    assert found.outside_body and not found.on_marker
    assert found.logit_before is not None and found.logit_after is not None
