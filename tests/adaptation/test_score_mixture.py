"""The label-free operating point: a two-component model of a site's scores moves the model's
own threshold as far as the site's classes moved, and keeps it where it was when they did
not move or do not separate."""
import numpy as np
import pytest

from pneumo_core.adaptation.score_mixture import (MIXTURES, SourceScores, fit_operating_point, mixture_named)

SOURCE_T = -1.5
SOURCE_PREV = 0.74


def _source(seed: int = 0) -> SourceScores:
    rng = np.random.default_rng(seed)
    return SourceScores(rng.normal(-8, 2.5, 170), rng.normal(8, 3.0, 470))


def _site(n_pneumonia: int, n_normal: int, normal_offset: float, pneumonia_offset: float, seed: int = 1):
    rng = np.random.default_rng(seed)
    s = np.r_[rng.normal(8, 3.0, n_pneumonia) + pneumonia_offset, rng.normal(-8, 2.5, n_normal) + normal_offset]
    return s, np.r_[np.ones(n_pneumonia, bool), np.zeros(n_normal, bool)]


def _fit(name: str, s: np.ndarray):
    return fit_operating_point(s, _source(), mixture_named(name), source_threshold=SOURCE_T,
                               source_prevalence=SOURCE_PREV)


@pytest.mark.parametrize("method", [m.name for m in MIXTURES])
def test_an_unshifted_site_keeps_the_source_threshold(method):
    s, _ = _site(50, 50, 0.0, 0.0)
    fit = _fit(method, s)
    assert fit.fallback is None
    assert abs(fit.threshold - SOURCE_T) < 1.0


@pytest.mark.parametrize("offset", [-3.0, 3.0])
def test_a_common_offset_moves_the_threshold_by_that_offset(offset):
    s, y = _site(50, 50, offset, offset)
    fit = _fit("scores-shift", s)
    assert fit.threshold == pytest.approx(SOURCE_T + offset, abs=0.4)
    assert fit.prevalence == pytest.approx(0.5, abs=0.05)


def test_normal_films_that_moved_up_raise_the_threshold_and_stop_the_over_calling():
    s, y = _site(50, 50, 6.0, 0.0)
    at_source = float(((s >= SOURCE_T)[~y] == 0).mean())
    fit = _fit("scores-shift-class", s)
    specificity = float(((s >= fit.threshold)[~y] == 0).mean())
    assert fit.threshold > SOURCE_T + 1.0
    assert specificity > at_source + 0.1


@pytest.mark.parametrize("method, guard", [("scores-shift-class", "-guarded"), ("scores-gaussian", "-guarded"),
                                           ("scores-shift-class", "-give0.01"), ("scores-shift", "-give0.01")])
def test_the_guarded_threshold_is_never_above_the_balanced_one(method, guard):
    s, _ = _site(10, 90, 6.0, 0.0)
    balanced, guarded = _fit(method, s), _fit(f"{method}{guard}", s)
    assert guarded.threshold <= balanced.threshold + 1e-9


def test_a_threshold_that_gives_up_sensitivity_stops_at_its_give():
    """Normal films moved into the pneumonia class's lower tail: the balanced point trades
    sensitivity away; the guarded one keeps the fitted sensitivity within its give."""
    s, _ = _site(10, 90, 6.0, 0.0)
    fit = _fit("scores-shift-class-give0.005", s)
    assert fit.fallback is None
    assert fit.sensitivity >= 1 - _source().cdf_at(1, np.array([SOURCE_T]))[0] - 0.005 - 1e-9
    assert fit.threshold < _fit("scores-shift-class", s).threshold


@pytest.mark.parametrize("method", [m.name for m in MIXTURES])
def test_scores_that_do_not_separate_fall_back_to_the_source_threshold(method):
    s = np.random.default_rng(3).normal(0.0, 1.0, 100)  # one group of films, nothing to separate
    fit = _fit(method, s)
    assert fit.fallback is not None
    assert fit.threshold == SOURCE_T
    assert np.isnan(fit.sensitivity)


@pytest.mark.parametrize("method", [m.name for m in MIXTURES])
def test_a_batch_of_one_class_falls_back(method):
    s, _ = _site(0, 100, 0.0, 0.0)
    fit = _fit(method, s)
    assert fit.fallback is not None and fit.threshold == SOURCE_T


def test_non_finite_scores_are_refused():
    with pytest.raises(ValueError, match="finite"):
        _fit("scores-shift", np.array([0.0, np.inf, 1.0]))


def test_an_unknown_method_is_named_in_the_error():
    with pytest.raises(ValueError, match="scores-shift"):
        mixture_named("nope")
