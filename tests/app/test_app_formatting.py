"""Tests for pneumo_core.app.runtime.formatting: user-supplied names and probabilities as the app prints them.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import re

import pytest

from pneumo_core.app.runtime import formatting


@pytest.mark.parametrize("name", ["**bold**", "[link](http://x)", "<img src=x onerror=alert(1)>", "$x^2$",
                                  ":red[alarm]", "a_b_c", "# heading", "`code`", "line\nbreak"])
def test_escaped_file_names_carry_no_live_markdown(name):
    out = formatting.escape_markdown(name)
    assert "\n" not in out
    unescaped = re.sub(r"\\.", "", out)  # drop every escaped character: nothing special may remain
    assert not re.search(r"[\\`*_{}\[\]()#+\-.!|<>~$:]", unescaped)


@pytest.mark.parametrize("name,expected", [("../../etc/passwd", "passwd_report.pdf"),
                                           ("C:\\Users\\x\\scan 1.dcm", "scan_1_report.pdf"),
                                           ("<script>.png", "script_report.pdf"), ("...", "case_report.pdf"),
                                           ("IM-0001-0001.jpeg", "IM-0001-0001_report.pdf")])
def test_download_names_never_carry_paths_or_odd_characters(name, expected):
    assert formatting.safe_filename(name, "_report.pdf") == expected


@pytest.mark.parametrize("p,text", [(0.0, "< 0.1%"), (0.0004, "< 0.1%"), (0.4599, "46.0%"), (0.9995, "> 99.9%"),
                                    (None, "–"), (float("nan"), "–")])
def test_probabilities_never_print_as_a_certain_zero_or_one(p, text):
    assert formatting.format_probability(p) == text


@pytest.mark.parametrize("values,default,groups", [
    ({"balanced": 0.174, "screening": 0.174}, "balanced", {"balanced": ["balanced", "screening"]}),
    ({"screening": 0.17400004, "balanced": 0.174}, "balanced", {"balanced": ["screening", "balanced"]}),
    ({"balanced": 0.5, "screening": 0.2}, "balanced", {"balanced": ["balanced"], "screening": ["screening"]}),
    ({"balanced": 0.1745, "screening": 0.1735}, None, {"balanced": ["balanced"], "screening": ["screening"]}),
])
def test_presets_equal_to_the_shown_precision_are_one_choice_named_after_the_default(values, default, groups):
    assert formatting.preset_groups(values, default) == groups


def test_a_coinciding_preset_is_labelled_once_with_both_names():
    same = {"balanced": 0.174, "screening": 0.174}
    groups = formatting.preset_groups(same, "balanced")
    assert [formatting.preset_label(o, same, groups) for o in groups] == ["balanced = screening (0.174)"]
    apart = {"balanced": 0.3, "screening": 0.1}
    assert [formatting.preset_label(o, apart) for o in apart] == ["balanced (0.300)", "screening (0.100)"]
    assert formatting.preset_label("custom", same) == "custom (slider)"
