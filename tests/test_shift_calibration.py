"""The choice of which validation data the temperature and thresholds are fitted on."""
import numpy as np
import pytest

from pneumo_core.calibration import fit_operating_point
from pneumo_core.shift_calibration import CALIBRATION_RULE, choose_operating_point, leave_one_shift_out

SHIFTS = ("gamma_0.7", "contrast_0.7", "blur_1.0")


def _labels(n=400):
    return np.r_[np.zeros(n // 4), np.ones(3 * n // 4)].astype(int)  # train-like prevalence


def test_pooling_wins_when_clean_validation_is_separable_but_shifts_overlap():
    rng = np.random.default_rng(0)
    y = _labels()
    sign = np.where(y == 1, 1.0, -1.0)
    cond = {"clean": sign * 8 + rng.normal(0, 1, len(y))}  # separable: an over-confident fit
    cond |= {s: sign * 2 + rng.normal(0, 2, len(y)) for s in SHIFTS}  # overlapping under shift
    fit, record = choose_operating_point(cond, y)
    loss = {w: record["mean_held_out"][w]["balanced_log_loss"] for w in ("clean", "pooled")}
    assert loss["pooled"] < 0.99 * loss["clean"]
    assert record["fitted_on"] == ["clean", *SHIFTS] and record["rule"] == CALIBRATION_RULE
    pooled = fit_operating_point(np.concatenate([cond[k] for k in cond]), np.tile(y, len(cond)))
    assert fit == pooled, "the shipped fit uses every condition once the rule picks pooling"
    assert fit.temperature > fit_operating_point(cond["clean"], y).temperature, "pooling softens the over-confident fit"
    assert set(record["folds"]) == set(SHIFTS)


def test_clean_fit_stays_when_shifts_change_nothing():
    rng = np.random.default_rng(1)
    y = _labels()
    clean = np.where(y == 1, 1.5, -1.5) + rng.normal(0, 1.5, len(y))
    cond = {"clean": clean} | {s: clean.copy() for s in SHIFTS}
    fit, record = choose_operating_point(cond, y)
    assert record["fitted_on"] == ["clean"]
    assert fit == fit_operating_point(clean, y)
    for fold in record["folds"].values():  # identical data: both fits score the same
        assert fold["pooled"]["balanced_log_loss"] == pytest.approx(fold["clean"]["balanced_log_loss"], rel=1e-3)


def test_needs_clean_and_a_shift():
    y = _labels(40)
    with pytest.raises(ValueError):
        leave_one_shift_out({"clean": np.zeros(len(y))}, y)
    with pytest.raises(ValueError):
        leave_one_shift_out({"blur_1.0": np.zeros(len(y))}, y)

