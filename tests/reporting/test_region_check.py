"""The heatmap check's words (pneumo_core.reporting.region_check): one outcome per film,
judged on the call and the logit, every number in the sentence the number it describes.

Constructed logits reach every outcome for both calls; the page test
(tests/app/test_app_check.py) shows the same words on validation films.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pneumo_core.reporting import region_check as rc
from pneumo_core.reporting.words import format_probability

def _p(z: float) -> float:
    """P(pneumonia) of a source-calibrated logit, as the page shows it without a site profile."""
    return float(1 / (1 + np.exp(-z)))


def _check(called: str, z0: float, z1: float, threshold: float = 0.5) -> rc.RegionCheck:
    p0, p1 = _p(z0), _p(z1)
    return rc.RegionCheck(called, z0, z1, p0, p1, threshold)


CASES = [  # (called, raw logit before, after, threshold, outcome)
    ("PNEUMONIA", 2.0, -1.0, 0.5, rc.FLIPS),
    ("NORMAL", -2.0, 1.0, 0.5, rc.FLIPS),
    ("PNEUMONIA", 0.447, 1.815, 0.5, rc.FAILS),    # the false positive: P 0.61 -> 0.86
    ("NORMAL", -2.0, -3.5, 0.5, rc.FAILS),
    ("PNEUMONIA", 14.0, 11.0, 0.5, rc.SATURATED),  # P > 99.9% before and after
    ("NORMAL", -14.0, -11.5, 0.5, rc.SATURATED),
    ("PNEUMONIA", 1.0, 0.95, 0.5, rc.UNMOVED),
    ("NORMAL", -1.0, -0.95, 0.5, rc.UNMOVED),
    ("PNEUMONIA", 3.0, 1.2, 0.5, rc.STANDS),
    ("NORMAL", -3.0, -1.2, 0.5, rc.STANDS),
]


@pytest.mark.parametrize("called, z0, z1, threshold, outcome", CASES)
def test_each_outcome_is_reached_for_both_calls_and_its_sentence_quotes_its_own_numbers(called, z0, z1, threshold,
                                                                                       outcome):
    c = _check(called, z0, z1, threshold)
    assert c.outcome == outcome
    text = c.text
    sign = 1 if called == "PNEUMONIA" else -1
    if outcome == rc.FLIPS:
        other = "NORMAL" if called == "PNEUMONIA" else "PNEUMONIA"
        assert f"turns the call from {called} to {other}" in text and f"threshold {threshold:.3f}" in text
        assert f"P(pneumonia) {format_probability(c.p_before)} → {format_probability(c.p_after)}" in text
    else:
        assert f"{sign * z0:.1f} → {sign * z1:.1f} logits" in text
    if outcome == rc.FAILS:
        assert text.startswith("The map fails its own check") and f"raises the model's {called} score by " \
            f"{sign * (z1 - z0):.1f} logits" in text and "dimmed" in text
    if outcome == rc.SATURATED:
        assert "saturated" in text and f"stays {format_probability(c.p_after)}" in text
        assert f"by {sign * (z1 - z0):+.1f} logits" in text
    if outcome == rc.UNMOVED:
        assert "almost unchanged" in text and f"the {called} call does not rest on this region" in text
    if outcome == rc.STANDS:
        assert f"lowers the model's {called} score by {sign * (z0 - z1):.1f} logits" in text
        assert f"call stands at threshold {threshold:.3f}" in text
        assert f"P(pneumonia) {format_probability(c.p_before)} → {format_probability(c.p_after)}" in text
    assert c.map_fails == (outcome == rc.FAILS)


def test_a_saturated_pneumonia_call_is_never_said_to_rest_on_the_region():
    """Issue #29: "changes P(pneumonia) from 1.00 to 1.00: the region carries much of the call"."""
    c = _check("PNEUMONIA", 20.0, 12.0)
    assert format_probability(c.p_before) == format_probability(c.p_after) == "> 99.9%"
    assert c.outcome == rc.SATURATED and "carries much" not in c.text and "rests on" not in c.text


def test_a_region_that_raises_the_called_score_fails_the_check_plainly():
    """Issue #29: a false positive (P 0.61) whose region, filled in, raised P to 0.86 read
    only "does not rest on this region alone"."""
    c = _check("PNEUMONIA", 0.447, 1.815)
    assert format_probability(c.p_before) == "61.0%" and format_probability(c.p_after) == "86.0%"
    assert c.map_fails and "does not support the PNEUMONIA call" in c.text and "alone" not in c.text


def test_a_call_exactly_at_the_threshold_after_filling_is_a_flip_only_if_the_call_changes():
    same = rc.RegionCheck("PNEUMONIA", 1.0, 0.0, 0.7, 0.5, 0.5)  # P >= threshold: still PNEUMONIA
    assert same.outcome == rc.STANDS
    flipped = rc.RegionCheck("PNEUMONIA", 1.0, 0.0, 0.7, 0.4999, 0.5)
    assert flipped.outcome == rc.FLIPS


@settings(max_examples=300, deadline=None)
@given(called=st.sampled_from(["NORMAL", "PNEUMONIA"]), z0=st.floats(-40, 40), z1=st.floats(-40, 40),
       threshold=st.floats(0.01, 0.99))
def test_only_a_flip_says_the_call_rests_on_the_region_and_no_sentence_claims_much(called, z0, z1, threshold):
    p0 = _p(z0)
    if rc.call_label(p0, threshold) != called:  # the class called is the one the film gets
        called = "PNEUMONIA" if called == "NORMAL" else "NORMAL"
    c = rc.RegionCheck(called, z0, z1, p0, _p(z1), threshold)
    assert c.outcome in rc.OUTCOMES
    assert "carries much" not in c.text
    assert ("rests on this region." in c.text) == (c.outcome == rc.FLIPS)
    if c.outcome == rc.FAILS:
        assert c.moved > rc.NEGLIGIBLE_LOGIT
