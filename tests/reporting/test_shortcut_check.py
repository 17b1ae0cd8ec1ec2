"""The shortcut check's words (`reporting.shortcut_check`): one outcome per film, each said
with the numbers it was judged on, and nothing claimed beyond them."""
import pytest

from pneumo_core.reporting import shortcut_check as sc
from pneumo_core.reporting.region_check import NEGLIGIBLE_LOGIT
from pneumo_core.stats.display import format_probability

T = 0.174


def _check(called="PNEUMONIA", on_marker=True, outside=False, before=None, after=None, p=(None, None), n=1):
    return sc.ShortcutCheck(called, n, on_marker, outside, T, before, after, *p)


@pytest.mark.parametrize("n, words", [(0, "no burned-in marker was found on this film"),
                                      (1, "not on the one burned-in marker found"),
                                      (3, "on none of the 3 burned-in markers found")])
def test_a_strongest_cell_on_the_body_and_on_no_marker_is_clear_and_says_how_many_markers_were_found(n, words):
    c = _check(on_marker=False, n=n)
    assert c.outcome == sc.CLEAR and not c.flagged
    assert words in c.text and "lies on the body" in c.text


@pytest.mark.parametrize("called, before, after, p", [
    ("PNEUMONIA", 1.0, -3.0, (0.73, 0.05)),   # the PNEUMONIA call turns NORMAL
    ("NORMAL", -4.0, 0.5, (0.02, 0.62)),      # the NORMAL call turns PNEUMONIA
])
def test_a_fill_that_turns_the_call_says_the_call_rests_on_the_marker(called, before, after, p):
    c = _check(called, before=before, after=after, p=p)
    assert c.outcome == sc.FLIPS and c.flagged
    other = "NORMAL" if called == "PNEUMONIA" else "PNEUMONIA"
    assert f"turns the call from {called} to {other}" in c.text
    assert f"P(pneumonia) {format_probability(p[0])} → {format_probability(p[1])}" in c.text
    assert "rests on the marker" in c.text and f"threshold {T:.3f}" in c.text


@pytest.mark.parametrize("called, before, after, p, way", [
    ("PNEUMONIA", 6.0, 5.2, (0.998, 0.994), "lowers"),
    ("PNEUMONIA", 6.0, 6.9, (0.998, 0.999), "raises"),
    ("NORMAL", -5.0, -4.0, (0.007, 0.018), "lowers"),   # NORMAL's score is -logit: it fell by 1.0
])
def test_a_fill_that_moves_the_score_but_not_the_call_says_which_way_and_how_far(called, before, after, p, way):
    c = _check(called, before=before, after=after, p=p)
    assert c.outcome == sc.MOVES
    assert f"{way} the model's {called} score by {abs(c.moved):.1f} logits" in c.text
    assert f"P(pneumonia) {format_probability(p[0])} → {format_probability(p[1])}" in c.text
    assert f"the {called} call stands at threshold {T:.3f}" in c.text


@pytest.mark.parametrize("called, sign", [("PNEUMONIA", 1.0), ("NORMAL", -1.0)])
def test_a_fill_that_leaves_the_score_unchanged_says_the_map_overstates_the_marker(called, sign):
    before = sign * 8.0
    c = _check(called, before=before, after=before - sign * NEGLIGIBLE_LOGIT / 2, p=(0.9995, 0.9995) if sign > 0
               else (0.0004, 0.0004))
    assert c.outcome == sc.UNMOVED
    assert "almost unchanged" in c.text and "does not rest on the marker" in c.text and "overstates" in c.text
    assert f"({c.moved:+.1f} logits; P(pneumonia) " in c.text


def test_a_cell_outside_the_body_is_named_as_such_and_the_cell_is_what_was_filled():
    c = _check(on_marker=False, outside=True, before=2.0, after=1.0, p=(0.88, 0.73))
    assert c.flagged and c.outcome == sc.MOVES
    assert "outside the body, on the film's background" in c.text and "Filling that cell in" in c.text


def test_a_marker_outside_the_body_says_both():
    c = _check(on_marker=True, outside=True, before=2.0, after=2.0, p=(0.88, 0.88))
    assert "on a burned-in marker (text printed on the film), outside the body" in c.text
    assert c.outcome == sc.UNMOVED


def test_no_outcome_claims_the_call_carries_on_the_marker_without_a_flip():
    for before, after in ((6.0, 5.0), (6.0, 6.05)):
        text = _check(before=before, after=after, p=(0.998, 0.997)).text
        assert "rests on the marker," not in text and "carries much" not in text
