"""What the app says after a label-free adaptation (`app.site.adapt_words`), sentence by
sentence against the number it stands beside, in each branch: a fitted threshold or the
model's own kept (fallback); no call changed or some; the drift alarm firing or not. Also the
banner and the sidebar's words under such a profile. No model: profiles are built from
numbers, the validation record is written here."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from pneumo_core.adaptation.changes import changed_calls
from pneumo_core.adaptation.expected import validation_expectation
from pneumo_core.adaptation.profile import build_operating_point_profile
from pneumo_core.adaptation.score_mixture import MixtureFit, mixture_named
from pneumo_core.app.runtime.formatting import disclaimer
from pneumo_core.app.settings.operating_point import NO_ESTIMATE, describe, no_estimate
from pneumo_core.app.site import adapt_words
from pneumo_core.calibration.recalibration import logit

SOURCE = {"balanced": 0.174, "screening": 0.120}
RULES = {"balanced": "maximises Youden's J on validation",
         "screening": "highest threshold with validation sensitivity >= 0.98, capped at the balanced one"}
METHOD = mixture_named("scores-shift-class")
FALLBACK = "the site's scores do not separate into two groups"


def _sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, float)))


def _profile(move: float, fallback: str | None = None):
    t0 = float(logit(SOURCE["balanced"]))
    fit = MixtureFit(t0 if fallback else t0 + move, 0.35, fallback, float("nan") if fallback else 0.94,
                     float("nan") if fallback else 0.87, {})
    return build_operating_point_profile(fit, METHOD, [f"f{i}" for i in range(100)], name="north", model="m",
                                         model_sha256="0" * 64, thresholds=SOURCE, threshold_rule=RULES,
                                         source_prevalence=0.6)


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+|\d+", text)]


@pytest.fixture
def record(tmp_path):
    """A validation record of the study's shape: 2 shifts x 2 prevalences, known means."""
    def row(sens, spec):
        return {"sensitivity": {"mean": sens}, "specificity": {"mean": spec}}
    summary = {"clean": {"0.1": {"none": row(0.97, 0.60), METHOD.name: row(0.95, 0.90)},
                         "0.9": {"none": row(0.99, 0.50), METHOD.name: row(0.96, 0.80)}},
               "gamma_0.7": {"0.1": {"none": row(0.95, 0.70), METHOD.name: row(0.93, 0.88)},
                             "0.9": {"none": row(0.97, 0.40), METHOD.name: row(0.94, 0.86)}}}
    (tmp_path / "adapt_study_val.json").write_text(json.dumps(
        {"summary": summary, "prevalences": [0.1, 0.9], "draws": 20, "chosen": METHOD.name}))
    return tmp_path


# --- what changed ---

@pytest.mark.parametrize("move", [0.0, 1.2, -1.2])
def test_the_count_of_changed_calls_is_the_number_of_films_between_the_two_thresholds(move):
    p = _profile(move)
    x = np.linspace(-5, 5, 201)
    changes = changed_calls([f"f{i}" for i in range(len(x))], _sigmoid(x), p.probability(x),
                            threshold_before=SOURCE["balanced"], threshold_after=p.thresholds["balanced"])
    t0 = float(logit(SOURCE["balanced"]))
    expected = int(((x >= t0) != (x >= t0 + move)).sum())
    sentence = adapt_words.changes_sentence(changes)
    assert len(changes.changed) == expected
    if expected == 0:
        assert sentence.startswith("No call changed") and f"all {len(x)} films keep" in sentence
    else:
        n, of, to_pneumonia, to_normal = _numbers(sentence)[:4]
        assert (n, of) == (expected, len(x))
        assert (to_pneumonia, to_normal) == ((0, expected) if move > 0 else (expected, 0))


def test_a_batch_none_of_whose_films_was_adapted_on_does_not_read_as_no_call_changed():
    changes = changed_calls(["new"], [None], [0.9], threshold_before=0.5, threshold_after=0.5)
    sentence = adapt_words.changes_sentence(changes)
    assert "nothing to compare" in sentence and "No call changed" not in sentence


def test_a_fallback_profile_changes_no_call():
    p = _profile(1.2, FALLBACK)
    x = np.linspace(-5, 5, 201)
    changes = changed_calls(list(map(str, x)), _sigmoid(x), p.probability(x), threshold_before=SOURCE["balanced"],
                            threshold_after=p.thresholds["balanced"])
    assert changes.changed == ()


# --- where the call sits ---

def test_a_fitted_threshold_is_said_on_the_models_probability_before_and_after_and_on_the_sites():
    p = _profile(1.0)
    text = adapt_words.threshold_sentence(p, SOURCE)
    now, before, here = _numbers(text)
    assert now == pytest.approx(_sigmoid(p.adaptation["threshold_logit"]), abs=5e-4)
    assert before == pytest.approx(SOURCE["balanced"], abs=5e-4)
    assert here == pytest.approx(p.thresholds["balanced"], abs=5e-4)
    assert "separate" in text


def test_a_fallback_says_the_models_threshold_was_kept_and_why():
    p = _profile(1.0, FALLBACK)
    text = adapt_words.threshold_sentence(p, SOURCE)
    assert text.startswith("The threshold was kept at the model's own") and FALLBACK in text
    assert _numbers(text)[0] == pytest.approx(SOURCE["balanced"], abs=5e-4)
    assert "New threshold" not in text


def test_the_screening_threshold_is_described_by_its_own_rule_not_the_balanced_ones():
    for p in (_profile(1.0), _profile(1.0, FALLBACK)):
        assert "Youden" not in p.threshold_rules["screening"]
        assert RULES["screening"] in p.threshold_rules["screening"]


# --- what to expect for patients ---

def test_the_expected_sensitivity_and_specificity_are_the_validation_records_means(record):
    p = _profile(1.0)
    exp = validation_expectation(record, METHOD.name)
    text = adapt_words.expectation_sentence(p, exp)
    assert "validation study" in text and "not your site" in text
    assert f"under simulated site shifts ({exp.shifts} conditions)" in text and exp.shifts == 2
    assert f"sensitivity {np.mean([0.95, 0.96, 0.93, 0.94]):.2f} and specificity {np.mean([0.90, 0.80, 0.88, 0.86]):.2f}" in text
    assert "lowest over the conditions: sensitivity 0.93, specificity 0.80" in text
    assert f"sensitivity {np.mean([0.97, 0.99, 0.95, 0.97]):.2f}, specificity {np.mean([0.6, 0.5, 0.7, 0.4]):.2f}" in text


def test_after_a_fallback_the_expectation_is_the_models_own_threshold_not_the_methods(record):
    p = _profile(1.0, FALLBACK)
    text = adapt_words.expectation_sentence(p, validation_expectation(record, METHOD.name))
    assert "the model's own threshold kept sensitivity 0.97 and specificity 0.55" in text
    assert "lowest over the conditions: sensitivity 0.95, specificity 0.40" in text  # the worst simulated site
    assert "this method kept" not in text


def test_a_method_without_a_validation_record_says_the_effect_is_not_known(tmp_path):
    p = _profile(1.0)
    assert validation_expectation(tmp_path, METHOD.name) is None
    text = adapt_words.expectation_sentence(p, None)
    assert "not known" in text and "sensitivity 0." not in text


def test_the_fitted_groups_guess_is_shown_only_when_fitted_and_called_a_guess():
    text = adapt_words.fitted_sentence(_profile(1.0))
    assert _numbers(text) == [0.94, 0.87] and "not a measurement" in text
    assert adapt_words.fitted_sentence(_profile(1.0, FALLBACK)) is None


# --- the drift alarm ---

@pytest.mark.parametrize("shifted, word", [(True, "still fires"), (False, "still does not fire")])
def test_moving_the_threshold_cannot_clear_the_drift_alarm_and_the_page_says_so(shifted, word):
    text = adapt_words.drift_sentence(_profile(1.0), shifted, shifted, "above")
    assert f"(above) was run again on the adapted model: it {word}" in text
    assert "does not change the features" in text and "Calibrate for your site" in text
    assert "cleared" not in text


def test_after_a_fallback_the_alarm_sentence_does_not_say_the_call_moved():
    text = adapt_words.drift_sentence(_profile(1.0, FALLBACK), True, True, "above")
    assert "it still fires" in text and "neither the films' features nor the calls changed" in text
    assert "where the call sits" not in text


def test_a_network_adapting_profile_that_quiets_the_alarm_says_it_cleared():
    p = _profile(1.0)
    p.adaptation["layers"] = {"x": {"mean": [0.0], "var": [1.0]}}
    assert "it cleared" in adapt_words.drift_sentence(p, True, False)
    assert "still fires" in adapt_words.drift_sentence(p, True, True)


# --- plain words, the banner and the sidebar ---

def test_the_page_summary_has_no_method_jargon():
    text = "\n".join(adapt_words.summary_lines(_profile(1.0)))
    for jargon in ("EM ", "posterior", "normalisation layers", "Youden"):
        assert jargon not in text
    assert "the threshold only" in text


def test_the_banner_says_adapted_without_labels_not_recalibrated_on_a_labelled_sample():
    text = disclaimer(_profile(1.0))
    assert "without labels" in text and "100 of its unlabelled films" in text
    assert "labelled sample" not in text


def test_the_sidebar_under_an_adapted_profile_says_no_estimate_exists_at_any_threshold():
    p = _profile(1.0)
    assert "at any threshold" in no_estimate(p) and "balanced one" not in describe(None, 0.2, p)
    assert no_estimate(None) == NO_ESTIMATE  # a labelled profile keeps its own sentence


def test_a_labelled_profile_keeps_its_labelled_sample_banner_and_a_bare_name_claims_neither():
    from dataclasses import replace
    labelled = replace(_profile(1.0), counts={"NORMAL": 30, "PNEUMONIA": 30}, adaptation=None)
    assert "on a small labelled sample" in disclaimer(labelled) and "without labels" not in disclaimer(labelled)
    bare = disclaimer("north")
    assert "labelled sample" not in bare and "without labels" not in bare and "north" in bare
