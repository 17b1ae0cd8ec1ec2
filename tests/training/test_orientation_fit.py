"""Fitting the orientation head (`python -m pneumo_core.training.orientation`) on a small
sample of a shipped model's own films: the record says what the head was fitted and chosen
on, and the choices follow their rules."""
from __future__ import annotations

import pytest
from conftest import REPO

from pneumo_core.inference.orientation import TRANSFORMS
from pneumo_core.training.orientation import C_GRID, CONFIDENCE_GRID, fit_orientation

DATA = REPO.parent / "shared" / "data" / "chest_xray"


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    cache = tmp_path_factory.mktemp("orientation") / "features.npz"
    first = fit_orientation("paper_cnn", DATA, n_train=40, n_val=16, write=False, cache=cache)
    again = fit_orientation("paper_cnn", DATA, n_train=40, n_val=16, write=False, cache=cache)  # from the cache
    assert again["C"] == first["C"] and again["confidence"] == first["confidence"]
    return first


def test_the_head_is_fitted_on_training_films_and_chosen_on_validation_films(record):
    assert record["trained_on"]["films"] == 40 and record["trained_on"]["examples"] == 40 * 8
    assert record["validated_on"]["films_x8"] == 16
    assert record["validated_on"]["films_upright"] == record["validation_upright_films"]["n"] > 16
    assert record["C"] in C_GRID and record["C"] == max(C_GRID, key=lambda c: (
        record["C_grid_validation_accuracy"][str(c)], -c))


def test_it_reads_every_transform_better_than_chance_and_corrects_nothing_wrongly(record):
    assert set(record["validation_accuracy_per_transform"]) == {t.name for t in TRANSFORMS}
    assert min(record["validation_accuracy_per_transform"].values()) > 1 / 8
    wrong = record["confidence_grid_wrong_corrections"]
    clean = [c for c in CONFIDENCE_GRID if wrong[str(c)] == 0]  # the rule: the lowest level with no wrong correction
    assert record["confidence"] == (clean[0] if clean else CONFIDENCE_GRID[-1])


def test_far_ood_limits_sit_above_every_upright_validation_film(record):
    far = record["far_ood"]
    assert far["validation_films"] == record["validation_upright_films"]["n"]
    assert all(limit > top for limit, top in zip(far["limits"], far["validation_max"]))
