"""The burned-in marker detector and the body region (`inference.markers`), on constructed
films and on the hand-marked validation films (`data/marker_labels_val.json`), and the figures
docs/saliency.md quotes for it (`benchmarks/marker_study.py`'s record,
benchmarks/results/marker_study_val.json)."""
import json

import numpy as np
import pytest

from pneumo_core.data.preprocess import resize_square
from pneumo_core.evaluation.marker_detection import DEV_FILMS, detector_film, detector_study
from pneumo_core.inference.markers import body_mask, detect_markers, marker_mask
from pneumo_core.io.ingest import load

from conftest import REPO

DATA = REPO.parent / "shared" / "data" / "chest_xray"
LABELS_FILE = REPO / "data" / "marker_labels_val.json"
LABELS = json.loads(LABELS_FILE.read_text())
RECORD = REPO / "benchmarks" / "results" / "marker_study_val.json"
VAL = set(json.loads((REPO / "weights" / "efficientnet_lite0" / "split.json").read_text())["val"])

# an "R" as a radiographer's stamp prints it: 1-px strokes, 9 x 6 px at 224
R = np.array([[1, 1, 1, 1, 0, 0], [1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0], [1, 1, 1, 1, 0, 0],
              [1, 0, 1, 0, 0, 0], [1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, 1]], bool)


def _chest() -> np.ndarray:
    """A dark background, a bright body in the middle, darker lungs inside it, ribs across them."""
    film = np.full((224, 224), 12, np.uint8)
    film[10:224, 40:184] = 150
    film[50:180, 55:105] = film[50:180, 119:169] = 80
    for y in range(60, 170, 18):
        film[y:y + 5, 55:169] = 175  # ribs: bright, but wider than a stroke and longer than a letter
    return film


def test_a_printed_letter_on_the_background_is_found_and_the_body_is_not():
    film = _chest()
    film[100:109, 12:18][R] = 235
    found = detect_markers(film)
    assert [m.box for m in found] == [(100, 12, 109, 18)]
    assert not marker_mask(film.shape, found)[60:170, 55:169].any()


def test_ribs_and_a_plain_film_give_no_marker():
    assert detect_markers(_chest()) == []
    assert detect_markers(np.full((224, 224), 128, np.uint8)) == []


def test_a_float_film_is_read_like_its_uint8_copy():
    film = _chest()
    film[20:29, 12:18][R] = 235
    assert detect_markers(film) == detect_markers(film.astype(np.float32) / 255)


def test_the_body_is_the_bright_region_with_its_lungs_and_not_the_background():
    body = body_mask(_chest())
    assert body[120, 80] and body[120, 112]  # a lung, the mediastinum
    assert not body[120, 10] and not body[120, 210]  # the background beside the patient


@pytest.mark.parametrize("index", range(DEV_FILMS, 60, 3))
def test_the_detector_finds_the_marker_marked_on_held_out_validation_films(index):
    film = LABELS["films"][index]
    assert film["file"] in VAL, f"{film['file']} is not a validation film"
    pixels = resize_square(load(DATA / film["file"]).pixels, 224)
    row = detector_film(pixels, film["marker_cells"], LABELS["grid"])
    assert row["found"] == row["has_marker"] == bool(film["marker_cells"])


def test_the_labelled_films_are_validation_films_and_the_records_detector_figures_are_the_detectors():
    assert all(f["file"] in VAL for f in LABELS["films"]) and len(LABELS["films"]) == 60
    record = json.loads(RECORD.read_text())["detector"]
    assert detector_study(LABELS_FILE, DATA) == {k: record[k] for k in ("development", "held_out", "all")}
