"""The label-free operating-point study: draws keep patients apart, the rule picks a safe
method and re-derives from its record, and the records say what the code says."""
import json
from pathlib import Path

import numpy as np
import pytest

from pneumo_core.adaptation.score_mixture import DEFAULT_MIXTURE, MIXTURES, SourceScores
from pneumo_core.evaluation.threshold_study import (CANDIDATES, NONE, SELECTION_RULE, TEST_PROTOCOL, TEST_DRAWS,
                                                    VALIDATION_DRAWS, choose, run_draws, summarise)

WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "efficientnet_lite0"


def _population(normal_offset: float, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(int)
    s = np.where(y == 1, rng.normal(8, 3, n), rng.normal(-8, 2.5, n) + normal_offset)
    patients = np.arange(n) // 2  # two films a patient, one of each class
    return s, y, patients


def _source() -> SourceScores:
    rng = np.random.default_rng(9)
    return SourceScores(rng.normal(-8, 2.5, 170), rng.normal(8, 3, 470))


def _draws(s, y, g, methods, draws=4):
    return run_draws(s, y, g, _source(), methods, draws=draws, seed=0, source_threshold=-1.5, source_prevalence=0.74)


def test_a_site_whose_normal_films_moved_up_is_called_better_after_fitting():
    s, y, g = _population(normal_offset=6.0)
    out = _draws(s, y, g, [NONE, *MIXTURES[:2]])
    for p, by_m in out.items():
        none, fitted = summarise(by_m[NONE]), summarise(by_m["scores-shift-class"])
        assert fitted["specificity"]["mean"] > none["specificity"]["mean"] + 0.1, p


def test_every_draw_holds_its_prevalence_and_scores_only_other_patients():
    s, y, g = _population(0.0)
    out = _draws(s, y, g, [NONE])
    for p, by_m in out.items():
        drawn = np.asarray(by_m[NONE])[:, 4]
        assert np.allclose(drawn, float(p), atol=0.011)


def _summary(sens: dict, spec: dict) -> dict:
    row = lambda a, b: {"sensitivity": {"mean": a}, "specificity": {"mean": b}}
    return {"clean": {"0.5": {n: row(sens[n], spec[n]) for n in sens}}}


def test_a_method_that_loses_sensitivity_beyond_the_margin_is_not_safe_and_does_not_ship():
    names = CANDIDATES
    sens = {n: 0.99 for n in names} | {"scores-shift": 0.96}
    spec = {n: 0.80 for n in names} | {"scores-shift": 0.99, "scores-shift-class": 0.90}
    chosen, verdict = choose(_summary(sens, spec))
    assert not verdict["scores-shift"]["safe"]
    assert chosen == "scores-shift-class"


def test_within_the_tie_margin_the_simpler_method_ships():
    names = CANDIDATES
    sens = {n: 0.99 for n in names}
    spec = {n: 0.80 for n in names} | {"scores-shift": 0.897, "scores-shift-class": 0.90}
    chosen, _ = choose(_summary(sens, spec))
    assert chosen == "scores-shift"


def test_when_no_fitted_method_is_safe_the_earlier_choice_stays():
    names = CANDIDATES
    sens = {n: 0.90 for n in names} | {NONE: 0.99}
    chosen, _ = choose(_summary(sens, {n: 0.9 for n in names}))
    assert chosen == "bn-last48-weighted"


def _record(split: str) -> dict:
    return json.loads((WEIGHTS / f"adapt_study_{split}.json").read_text())


def test_the_validation_record_ran_the_rule_in_the_code_and_chose_the_shipped_method():
    v = _record("val")
    assert v["rule"] == SELECTION_RULE and v["draws"] == VALIDATION_DRAWS
    assert v["chosen"] == DEFAULT_MIXTURE.name
    assert set(v["methods"]) == set(CANDIDATES)


def test_the_choice_re_derives_from_the_validation_record():
    v = _record("val")
    chosen, verdict = choose(v["summary"])
    assert chosen == v["chosen"] and verdict == v["verdict"]


def test_the_round_one_record_chose_nothing_new():
    r1 = json.loads((WEIGHTS / "adapt_study_val_round1.json").read_text())
    assert r1["chosen"] == "bn-last48-weighted"
    assert choose(r1["summary"])[0] == "bn-last48-weighted"


def test_the_test_record_ran_the_committed_protocol_on_the_shipped_method():
    t = _record("test")
    assert t["protocol"] == TEST_PROTOCOL.format(draws=TEST_DRAWS) and t["draws"] == TEST_DRAWS
    assert set(t["summary"]["clean"]["0.5"]) == {NONE, DEFAULT_MIXTURE.name}
    assert t["device"].startswith("cpu") and t["wall_seconds"] < 2 * 3600


def test_the_earlier_normalisation_records_pin_their_rule_protocol_and_method():
    from pneumo_core.adaptation.method import DEFAULT_METHOD
    from pneumo_core.evaluation import adaptation_study
    v = json.loads((WEIGHTS / "adapt_study_normalisation_val.json").read_text())
    t = json.loads((WEIGHTS / "adapt_study_normalisation_test.json").read_text())
    assert v["rule"] == adaptation_study.SELECTION_RULE and v["chosen"] == DEFAULT_METHOD.name
    assert t["protocol"] == adaptation_study.TEST_PROTOCOL.format(draws=t["draws"])
    assert set(t["summary"]["clean"]["0.5"]) == {"none", DEFAULT_METHOD.name}
