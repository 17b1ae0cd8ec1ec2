"""Site calibration's library: the recalibration fit, the profile's rules and its schema."""
import json

import numpy as np
import pytest

from pneumo_core.calibration.recalibration import SLOPE_MIN_PER_CLASS, fit_recalibration, logit, prior_shift, sigmoid
from pneumo_core.calibration.site import (MIN_PER_CLASS, SiteProfileError, build_site_profile, load_profile,
                                          save_profile, site_thresholds)


def _synthetic(n: int, intercept: float, slope: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.5, 3.0, n)
    return x, (rng.random(n) < sigmoid(intercept + slope * x)).astype(int)


@pytest.mark.parametrize("intercept,slope", [(-1.5, 0.6), (0.8, 1.4), (0.0, 1.0)])
def test_recalibration_recovers_a_known_intercept_and_slope(intercept, slope):
    x, y = _synthetic(20000, intercept, slope)
    fit = fit_recalibration(x, y)
    assert fit.slope_fitted
    assert fit.intercept == pytest.approx(intercept, abs=0.08)
    assert fit.slope == pytest.approx(slope, abs=0.05)


def test_intercept_only_recovers_a_known_shift_with_the_slope_held_at_one():
    x, y = _synthetic(20000, -2.0, 1.0, seed=1)
    fit = fit_recalibration(x, y, fit_slope=False)
    assert not fit.slope_fitted and fit.slope == 1.0
    assert fit.intercept == pytest.approx(-2.0, abs=0.08)


def test_slope_is_fitted_only_with_enough_films_of_each_class():
    x, y = _synthetic(400, 0.0, 1.0, seed=2)
    rows = np.r_[np.flatnonzero(y == 0)[:SLOPE_MIN_PER_CLASS - 1], np.flatnonzero(y == 1)[:100]]
    assert not fit_recalibration(x[rows], y[rows]).slope_fitted
    rows = np.r_[np.flatnonzero(y == 0)[:SLOPE_MIN_PER_CLASS], np.flatnonzero(y == 1)[:100]]
    assert fit_recalibration(x[rows], y[rows]).slope_fitted


def test_perfectly_separated_sample_gives_finite_parameters():
    x = np.r_[np.linspace(-6, -1, 25), np.linspace(1, 6, 25)]
    y = np.r_[np.zeros(25, int), np.ones(25, int)]
    fit = fit_recalibration(x, y)
    assert np.isfinite(fit.intercept) and np.isfinite(fit.slope) and 0 < fit.slope < 10


def test_prior_shift_moves_the_intercept_by_the_log_odds_of_the_prevalences():
    fit = fit_recalibration(*_synthetic(2000, 0.3, 0.9))
    moved = prior_shift(fit, 0.5, 0.2)
    assert moved.intercept - fit.intercept == pytest.approx(float(logit(0.2) - logit(0.5)))
    assert moved.slope == fit.slope
    with pytest.raises(ValueError):
        prior_shift(fit, 0.5, 1.0)


def test_thresholds_come_from_the_cost_ratio_not_from_the_sample():
    thresholds, rules = site_thresholds(4.0)
    assert thresholds == {"balanced": 0.5, "screening": pytest.approx(0.2)}
    assert "4" in rules["screening"]
    with pytest.raises(SiteProfileError):
        site_thresholds(0.5)


def _profile(n_normal: int, n_pneumonia: int, **kw):
    x, y = _synthetic(5000, -1.0, 0.7, seed=3)
    rows = np.r_[np.flatnonzero(y == 0)[:n_normal], np.flatnonzero(y == 1)[:n_pneumonia]]
    files = [f"secret_patient_{i}.png" for i in range(len(rows))]
    return build_site_profile(x[rows], y[rows], [f"p{i}" for i in range(len(rows))], files, name="st-elsewhere",
                              model="m", model_sha256="a" * 64, n_boot=50, **kw)


def test_fewer_than_ten_films_of_a_class_are_refused():
    with pytest.raises(SiteProfileError, match=f"at least {MIN_PER_CLASS}"):
        _profile(MIN_PER_CLASS - 1, 40)
    assert _profile(MIN_PER_CLASS, 40).counts == {"NORMAL": MIN_PER_CLASS, "PNEUMONIA": 40}


def test_small_sample_warns_that_the_estimates_are_wide():
    assert any("wide" in w for w in _profile(20, 40).warnings)
    assert not any("wide" in w for w in _profile(60, 60).warnings)


def test_profile_records_estimates_with_intervals_and_no_file_names(tmp_path):
    profile = _profile(30, 50)
    for k in ("accuracy", "sensitivity", "specificity", "ece"):
        e = profile.estimates[k]
        assert e["ci_low"] <= e["value"] <= e["ci_high"]
    path = save_profile(profile, tmp_path / "site.json")
    text = path.read_text()
    assert "secret_patient" not in text and len(json.loads(text)["files_sha256"]) == 64
    assert load_profile(path) == profile


def test_stated_prevalence_moves_the_intercept_and_is_recorded():
    consecutive, stated = _profile(30, 50), _profile(30, 50, prevalence=0.1)
    assert stated.intercept < consecutive.intercept
    assert stated.site_prevalence == 0.1 and stated.prevalence_source == "stated"


def test_profile_for_other_weights_is_refused():
    profile = _profile(30, 50)
    with pytest.raises(SiteProfileError, match="calibrate the site again"):
        profile.check_model("m", "b" * 64)
    profile.check_model("m", "a" * 64)


def test_a_file_that_is_not_a_profile_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(SiteProfileError):
        load_profile(bad)
    with pytest.raises(SiteProfileError):
        load_profile(b"\xff\xfe not json")
