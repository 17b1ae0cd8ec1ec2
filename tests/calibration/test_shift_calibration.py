"""The choice of which validation data the temperature and thresholds are fitted on."""
import numpy as np
import pytest

import pneumo_core.calibration.shift as SC
from pneumo_core.calibration import OperatingPoint, fit_operating_point
from pneumo_core.calibration.shift import CALIBRATION_RULE, choose_operating_point, leave_one_shift_out

SHIFTS = ("gamma_0.7", "contrast_0.7", "blur_1.0")


def _labels(n=400):
    return np.r_[np.zeros(n // 4), np.ones(3 * n // 4)].astype(int)  # train-like prevalence


def test_pooling_wins_when_clean_validation_is_separable_but_shifts_overlap():
    rng = np.random.default_rng(0)
    y = _labels()
    sign = np.where(y == 1, 1.0, -1.0)
    cond = {"clean": sign * 8 + rng.normal(0, 1, len(y))}  # separable: an over-confident fit
    # under shift the classes overlap and every image scores higher, as NORMAL films can on new equipment
    cond |= {s: sign * 2 + 3 + rng.normal(0, 2, len(y)) for s in SHIFTS}
    fit, record = choose_operating_point(cond, y)
    assert record["mean_relative_loss_change"] < -0.01
    assert record["mean_held_out"]["pooled"]["balanced_accuracy"] > record["mean_held_out"]["clean"]["balanced_accuracy"]
    assert record["fitted_on"] == ["clean", *SHIFTS] and record["rule"] == CALIBRATION_RULE
    pooled = fit_operating_point(np.concatenate([cond[k] for k in cond]), np.tile(y, len(cond)))
    assert fit == pooled, "the shipped fit uses every condition once the rule picks pooling"
    assert fit.temperature > fit_operating_point(cond["clean"], y).temperature, "pooling softens the over-confident fit"
    assert set(record["folds"]) == set(SHIFTS) and record["image_folds"] == SC.IMAGE_FOLDS


def test_clean_fit_stays_when_shifts_change_nothing():
    rng = np.random.default_rng(1)
    y = _labels()
    clean = np.where(y == 1, 1.5, -1.5) + rng.normal(0, 1.5, len(y))
    cond = {"clean": clean} | {s: clean.copy() for s in SHIFTS}
    fixed = OperatingPoint(1.0, {"balanced": 0.5, "screening": 0.5})
    fit, record = choose_operating_point(cond, y, extra={"shipped": fixed})
    assert record["fitted_on"] == ["clean"]
    assert fit == fit_operating_point(clean, y)
    for fold in record["folds"].values():  # identical data: both fits score the same
        assert fold["pooled"]["balanced_log_loss"] == pytest.approx(fold["clean"]["balanced_log_loss"], rel=1e-3)
        assert set(fold) == {"clean", "pooled", "shipped"}
    assert record["mean_held_out"]["shipped"]["balanced_accuracy"] == pytest.approx(
        ((clean[y == 1] >= 0).mean() + (clean[y == 0] < 0).mean()) / 2), "a fixed point is scored as it stands"


def test_each_fit_leaves_out_its_held_out_shift_and_patients(monkeypatch):
    """Logits encode (condition, image); a spy in place of the fit decodes what each fit saw."""
    y = _labels(80)
    groups = np.arange(len(y)) // 2  # two films per child
    names = ["clean", *SHIFTS]
    cond = {k: 100.0 * i + 0.01 * np.arange(len(y)) for i, k in enumerate(names)}
    seen = []

    def spy(logits, labels):
        seen.append((set((logits // 100).astype(int)), set(np.round((logits % 100) / 0.01).astype(int))))
        return OperatingPoint(1.0, {"balanced": 0.5, "screening": 0.5})

    monkeypatch.setattr(SC, "fit_operating_point", spy)
    record = leave_one_shift_out(cond, y, groups)
    k = record["image_folds"]
    assert len(seen) == len(SHIFTS) * k * 2
    for s, held in enumerate(SHIFTS):
        held_out_rows = []
        for f in range(k):
            (clean_conds, clean_rows), (pooled_conds, pooled_rows) = seen[(s * k + f) * 2: (s * k + f) * 2 + 2]
            assert clean_conds == {0} and pooled_conds == set(range(len(names))) - {names.index(held)}
            assert clean_rows == pooled_rows
            out = set(range(len(y))) - clean_rows
            assert all((2 * (r // 2) in out) == (2 * (r // 2) + 1 in out) for r in range(len(y))), "a child split"
            held_out_rows += sorted(out)
        assert sorted(held_out_rows) == list(range(len(y))), "every image is held out exactly once per shift"


@pytest.mark.parametrize("change, acc_pooled, picks_pooled", [
    (-0.0101, 0.90, True), (-0.0099, 0.90, False), (-0.5, 0.89, False), (-0.5, 0.90, True)])
def test_margin_and_accuracy_condition(monkeypatch, change, acc_pooled, picks_pooled):
    y = _labels(40)
    cond = {"clean": np.where(y == 1, 2.0, -2.0), "blur_1.0": np.where(y == 1, 1.0, -1.0)}
    fake = {"folds": {}, "image_folds": 5, "mean_relative_loss_change": change,
            "mean_held_out": {"clean": {"balanced_log_loss": 1.0, "balanced_accuracy": 0.90},
                              "pooled": {"balanced_log_loss": 1.0 + change, "balanced_accuracy": acc_pooled}}}
    monkeypatch.setattr(SC, "leave_one_shift_out", lambda *a, **k: fake)
    _, record = choose_operating_point(cond, y)
    assert (record["fitted_on"] == ["clean", "blur_1.0"]) == picks_pooled


def test_needs_clean_a_shift_and_two_patients_per_class():
    y = _labels(40)
    with pytest.raises(ValueError):
        leave_one_shift_out({"clean": np.zeros(len(y))}, y)
    with pytest.raises(ValueError):
        leave_one_shift_out({"blur_1.0": np.zeros(len(y))}, y)
    with pytest.raises(ValueError, match="two patients"):
        leave_one_shift_out({"clean": np.zeros(len(y)), "blur_1.0": np.zeros(len(y))}, y, groups=y)
