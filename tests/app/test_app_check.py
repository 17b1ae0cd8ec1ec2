"""The check under the heatmap on the Diagnose page, on validation films that reach each of
its outcomes at the page's defaults (efficientnet_lite0, its default map and operating point):
the page says what `reporting.region_check` says, its numbers are the page's own numbers, a
map that failed its check is dimmed and said to have failed, and a NORMAL call is never
drawn in a finding's colours. Beside it, the shortcut check (`reporting.shortcut_check`) on
films that reach its outcomes, found by `benchmarks/marker_study.py`; and a heatmap that fails
leaves the case readable.

The films were found by scoring 197 validation films (split.json's "val"; never the test
split) with the page's defaults; each test fails if its film no longer reaches its outcome.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pneumo_core.reporting import region_check as rc
from pneumo_core.reporting import shortcut_check as sc

from conftest import REPO, run_app

DATA = REPO.parent / "shared" / "data" / "chest_xray"
VAL = set(json.loads((REPO / "weights" / "efficientnet_lite0" / "split.json").read_text())["val"])

FILMS = [  # (validation film, call, outcome)
    ("train/PNEUMONIA/person89_virus_168.jpeg", "PNEUMONIA", rc.FLIPS),
    ("train/NORMAL/IM-0300-0001.jpeg", "NORMAL", rc.FLIPS),
    ("train/PNEUMONIA/person399_bacteria_1806.jpeg", "PNEUMONIA", rc.FAILS),
    ("train/PNEUMONIA/person447_virus_921_1.jpeg", "PNEUMONIA", rc.SATURATED),
    ("train/PNEUMONIA/person303_virus_624.jpeg", "PNEUMONIA", rc.UNMOVED),
    ("val/PNEUMONIA/person1949_bacteria_4880.jpeg", "PNEUMONIA", rc.STANDS),
    ("train/NORMAL/IM-0250-0001.jpeg", "NORMAL", rc.STANDS),
]


def _plain(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


def _page(film: str):
    assert film in VAL, f"{film} is not a validation film"
    at = run_app()
    at.file_uploader(key="uploads").set_value([(Path(film).name, (DATA / film).read_bytes(), "image/jpeg")]).run()
    assert not at.exception
    return at


def _check_line(at) -> tuple[str, str]:
    """(the check's words as shown, "warning" or "caption")."""
    for kind in ("warning", "caption"):
        for el in getattr(at, kind):
            if el.value.startswith("**Check:** "):
                return _plain(el.value[len("**Check:** "):]), kind
    raise AssertionError("no check on the page")


@pytest.mark.parametrize("film, called, outcome", FILMS)
def test_the_page_says_the_checks_outcome_with_the_pages_own_numbers(film, called, outcome):
    at = _page(film)
    shown_p = at.metric[0].value
    threshold = f"{at.session_state['settings'].threshold:.3f}"
    assert any(f"{called} at threshold {threshold}" in m.value for m in at.markdown)  # the call's badge
    text, kind = _check_line(at)
    assert kind == ("warning" if outcome == rc.FAILS else "caption")  # a failed map is said plainly
    phrase = {rc.FLIPS: f"turns the call from {called} to ", rc.FAILS: "The map fails its own check",
              rc.SATURATED: "the score is saturated", rc.UNMOVED: "almost unchanged",
              rc.STANDS: f"the {called} call stands at threshold {threshold}"}[outcome]
    assert phrase in text, text
    if outcome == rc.SATURATED:
        assert f"stays {shown_p}" in text and shown_p in ("> 99.9%", "< 0.1%")
    else:
        assert f"P(pneumonia) {shown_p} → " in text  # "before" is the probability the page shows
    if outcome == rc.FLIPS:
        assert f"threshold {threshold}" in text
    assert "carries much" not in text


@pytest.mark.parametrize("film, called, outcome", [f for f in FILMS if f[1] == "NORMAL"])
def test_a_normal_call_says_its_map_is_an_outline_not_a_finding(film, called, outcome):
    at = _page(film)
    caption = next(_plain(c.value) for c in at.caption if "explains NORMAL" in _plain(c.value))
    assert "blue-grey outline" in caption and "not a finding" in caption and "red:" not in caption


def test_a_pneumonia_map_keeps_its_red_legend():
    at = _page(FILMS[0][0])
    assert any("explains PNEUMONIA (red: strongest" in _plain(c.value) for c in at.caption)


SHORTCUT = "**Shortcut check:** "
SHORTCUT_FILMS = [  # (validation film, outcome); no validation film of the study's sample flips (docs/saliency.md)
    ("train/PNEUMONIA/person1418_virus_2429.jpeg", sc.MOVES),  # on the "R": filling it in lowers the score by 2.3
    ("train/PNEUMONIA/person500_virus_1009.jpeg", sc.UNMOVED),  # on a marker off the body: the score stays
    ("train/PNEUMONIA/person1010_virus_1695.jpeg", sc.UNMOVED),  # on the background, no marker found
    ("train/NORMAL/IM-0300-0001.jpeg", sc.CLEAR),
]


def _shortcut_line(at) -> tuple[str, str]:
    """(the shortcut check's words as shown, "warning" or "caption")."""
    for kind in ("warning", "caption"):
        for el in getattr(at, kind):
            if el.value.startswith(SHORTCUT):
                return _plain(el.value[len(SHORTCUT):]), kind
    raise AssertionError("no shortcut check on the page")


@pytest.mark.parametrize("film, outcome", SHORTCUT_FILMS)
def test_the_page_says_the_shortcut_checks_outcome_with_the_pages_own_numbers(film, outcome):
    at = _page(film)
    shown_p = at.metric[0].value
    text, kind = _shortcut_line(at)
    assert kind == ("caption" if outcome == sc.CLEAR else "warning")
    phrase = {sc.CLEAR: "lies on the body", sc.FLIPS: "turns the call from", sc.MOVES: "call stands at threshold",
              sc.UNMOVED: "almost unchanged"}[outcome]
    assert phrase in text, text
    if outcome != sc.CLEAR:
        assert f"P(pneumonia) {shown_p} → " in text  # "before" is the probability the page shows
    _check_line(at)  # the heatmap's own check is still there beside it


def test_a_heatmap_that_fails_leaves_the_call_and_p_and_says_so_in_one_line(monkeypatch):
    import streamlit as st

    from pneumo_core.inference import saliency

    def broken(*args, **kwargs):
        raise RuntimeError("the CAM's hook saw no gradient")

    monkeypatch.setattr(saliency, "explain", broken)
    st.cache_data.clear()  # a map cached by an earlier test would hide the failure
    at = _page("train/NORMAL/IM-0300-0001.jpeg")
    assert at.metric[0].value  # P stands
    threshold = f"{at.session_state['settings'].threshold:.3f}"
    assert any(f"at threshold {threshold}" in m.value for m in at.markdown)  # and so does the call
    said = [_plain(w.value) for w in at.warning if "could not be computed" in _plain(w.value)]
    assert said == ["Heatmap could not be computed for this film: the CAM's hook saw no gradient"]
    assert not any(c.value.startswith(("**Check:** ", SHORTCUT)) for c in [*at.caption, *at.warning])
