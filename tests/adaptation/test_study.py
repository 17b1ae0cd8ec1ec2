import numpy as np

from pneumo_core.adaptation.method import AdaptationMethod, NO_ADAPTATION
from pneumo_core.evaluation.adaptation_study import DRAW_SIZE, SAFETY_MARGIN, choose_method, draw_at_prevalence


def _split(rng):
    labels = np.r_[np.zeros(300, int), np.ones(300, int)]
    patients = np.array([f"n{i // 2}" for i in range(300)] + [f"p{i // 3}" for i in range(300)])
    return labels, patients


def test_a_draw_holds_whole_patients_at_the_asked_prevalence():
    rng = np.random.default_rng(0)
    labels, patients = _split(rng)
    for prevalence in (0.1, 0.5, 0.9):
        drawn = draw_at_prevalence(rng, labels, patients, prevalence)
        assert DRAW_SIZE <= drawn.sum() <= DRAW_SIZE + 4
        assert abs(labels[drawn].mean() - prevalence) < 0.03
        rest = ~drawn
        assert not np.isin(patients[rest], patients[drawn]).any()  # no patient on both sides


PLAIN = AdaptationMethod("plain", 4)
DEEP = AdaptationMethod("deep", 16)
CORRECTED = AdaptationMethod("corrected", 4, balance="corrected")


def _record(rates):
    """{shift: {prevalence: {method: rows}}} with one row per draw: (sens, spec, acc, est, drawn)."""
    return {"clean": {p: {m: [[*rates[m][i], 0.0, 0.0, 0.0]] * 3 for m in rates} for i, p in enumerate(("0.1", "0.9"))}}


def test_the_rule_refuses_a_method_that_costs_sensitivity_even_where_it_helps_most():
    rates = {"none": [(0.99, 0.60), (0.99, 0.60)], "plain": [(0.99, 0.95), (0.99 - 2 * SAFETY_MARGIN, 0.95)],
             "corrected": [(0.98, 0.90), (0.98, 0.90)]}
    chosen, verdict = choose_method(_record(rates), [NO_ADAPTATION, PLAIN, CORRECTED])
    assert not verdict["plain"]["safe"] and chosen == "corrected"


def test_the_rule_prefers_fewer_layers_within_the_tie_margin():
    rates = {"none": [(0.99, 0.60), (0.99, 0.60)], "plain": [(0.99, 0.90), (0.99, 0.90)],
             "deep": [(0.99, 0.903), (0.99, 0.903)]}
    assert choose_method(_record(rates), [NO_ADAPTATION, PLAIN, DEEP])[0] == "plain"


def test_the_rule_ships_no_adaptation_when_no_method_is_safe():
    rates = {"none": [(0.99, 0.90), (0.99, 0.90)], "plain": [(0.90, 0.99), (0.90, 0.99)]}
    assert choose_method(_record(rates), [NO_ADAPTATION, PLAIN])[0] == "none"
