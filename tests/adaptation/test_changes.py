"""`adaptation.changes`: which calls adapting changed, the list the app shows and `adapt-site`
prints. Pure numbers, no model."""
import numpy as np
import pytest

from pneumo_core.adaptation.changes import changed_calls, site_probabilities, threshold_only
from pneumo_core.calibration.site import SiteProfile


def _profile(intercept: float = 0.0, layers: dict | None = None) -> SiteProfile:
    return SiteProfile(name="north", model="m", model_sha256="0" * 64, intercept=intercept, slope=1.0,
                       slope_fitted=False, thresholds={"balanced": 0.5}, threshold_rules={}, counts={"NORMAL": 0,
                       "PNEUMONIA": 0}, patients=0, sample_prevalence=0.5, site_prevalence=0.5,
                       prevalence_source="estimated", cost_ratio=1.0, estimates={}, files_sha256="", created="",
                       pneumo_core_version="", adaptation={"method": "x", "films": 100, "layers": layers or {}})


def test_a_film_whose_call_flips_is_listed_with_its_position_and_both_calls():
    ch = changed_calls(["a", "b", "c"], [0.3, 0.6, 0.1], [0.6, 0.4, 0.2], threshold_before=0.5, threshold_after=0.5)
    assert [(c.index, c.file, c.before, c.after) for c in ch.changed] == [(0, "a", "NORMAL", "PNEUMONIA"),
                                                                           (1, "b", "PNEUMONIA", "NORMAL")]
    assert (ch.compared, ch.to_pneumonia, ch.to_normal) == (3, 1, 1)


def test_the_call_at_the_threshold_itself_is_pneumonia_on_both_sides_as_the_product_calls_it():
    ch = changed_calls(["a"], [0.5], [0.25], threshold_before=0.5, threshold_after=0.25)
    assert ch.changed == ()


def test_films_without_a_call_are_neither_compared_nor_listed():
    ch = changed_calls(["a", "b", "c"], [None, 0.9, float("nan")], [0.1, None, 0.1], threshold_before=0.5,
                       threshold_after=0.5)
    assert ch.compared == 0 and ch.changed == ()


def test_a_batch_with_mismatched_lengths_is_refused_not_silently_cut():
    with pytest.raises(ValueError):
        changed_calls(["a", "b"], [0.1], [0.1, 0.2], threshold_before=0.5, threshold_after=0.5)


def test_a_threshold_only_profile_gives_its_probabilities_from_the_source_logits():
    p = _profile(intercept=-1.0)
    assert threshold_only(p)
    np.testing.assert_allclose(site_probabilities(p, [1.0, 0.0]), [0.5, 1 / (1 + np.e)])


def test_a_profile_that_changes_the_network_refuses_the_source_logits():
    p = _profile(layers={"features.1": {"mean": [0.0], "var": [1.0]}})
    assert not threshold_only(p)
    with pytest.raises(ValueError, match="score the films again"):
        site_probabilities(p, [0.0])
