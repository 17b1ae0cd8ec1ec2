"""One rule for a site profile: a score the model made without a profile, moved to the profile
by `Predictor.on_site` (the app's cached scores), is what `Predictor.from_pretrained(model,
site=profile)` scores (the command line's `predict --site`)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pneumo_core.inference.predictor import Predictor

MODEL = "paper_cnn"


@pytest.fixture(scope="module")
def both():
    return Predictor.from_pretrained(MODEL), Predictor.from_pretrained(MODEL, site="kermany-test")


def test_a_source_score_moved_to_the_profile_is_what_the_profile_scores(both, test_images):
    source, on_site = both
    films = [(f, f.name) for f in test_images["NORMAL"][:2] + test_images["PNEUMONIA"][:2]]
    for before, direct in zip(source.predict_sources(films), on_site.predict_sources(films)):
        moved = on_site.on_site(before)
        a, b = on_site.site.intercept, on_site.site.slope  # the profile's recalibration, written out
        assert moved.probability == pytest.approx(1 / (1 + np.exp(-(a + b * before.logit))), abs=1e-12)
        assert moved.probability == pytest.approx(direct.probability, abs=1e-9)
        assert (moved.label, moved.threshold, moved.site) == (direct.label, direct.threshold, "kermany-test")
        assert moved.probability != pytest.approx(before.probability, abs=1e-3)


def test_a_film_without_a_call_stays_without_one_under_the_profile(both):
    source, on_site = both
    (bad,) = source.predict_sources([(b"not an image", "x.png")])
    moved = on_site.on_site(bad)
    assert moved.probability is None and moved.error == bad.error and moved.site == "kermany-test"


def test_an_adapted_profile_refuses_a_score_the_source_network_made(both, test_images):
    source, on_site = both
    (pred,) = source.predict_sources([(test_images["NORMAL"][0], "a.jpeg")])
    on_site.site = replace(on_site.site, adaptation={"layers": {"x": [0.0]}})
    try:
        with pytest.raises(ValueError, match="score it again"):
            on_site.on_site(pred)
    finally:
        on_site.site = replace(on_site.site, adaptation=None)
