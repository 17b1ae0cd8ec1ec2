"""The app loads a model with its site through the one door the command line uses,
`Predictor.from_pretrained(model, site=profile)`: once per profile, kept apart from the shared
source predictor, and a cached score moved to the profile needs no second pass."""
from __future__ import annotations

import pytest

from pneumo_core.app.reading import scoring
from pneumo_core.app.runtime import paths, resources
from pneumo_core.inference.predictor import Predictor

MODEL = paths.DEFAULT_MODEL


def test_a_profiles_predictor_comes_through_from_pretrained_once_and_apart_from_the_shared_one(monkeypatch):
    site = resources.site_profile(resources.shipped_site_files(MODEL)["kermany-test"])
    calls = []
    real = Predictor.from_pretrained.__func__
    monkeypatch.setattr(Predictor, "from_pretrained",
                        classmethod(lambda cls, *a, **k: calls.append((a, k)) or real(cls, *a, **k)))
    resources._site_predictor.clear()
    on_site = resources.get_predictor(MODEL, site)
    assert calls == [((MODEL,), {"site": site})] and on_site.site is site
    assert resources.get_predictor(MODEL, site) is on_site and len(calls) == 1  # cached per profile
    assert resources.get_predictor(MODEL) is not on_site and resources.get_predictor(MODEL).site is None


def test_switching_to_a_profile_moves_the_cached_score_without_a_forward_pass(monkeypatch):
    site = resources.site_profile(resources.shipped_site_files(MODEL)["kermany-test"])
    film = next(p for p in paths.example_files() if p.name.startswith("person"))
    source = scoring.score_file(MODEL, film.read_bytes(), "x.jpeg")
    monkeypatch.setattr(Predictor, "features", lambda *a, **k: pytest.fail("a profile change ran the network"))
    under = scoring.score_file(MODEL, film.read_bytes(), "x.jpeg", site)
    assert under.ok and under.probability != pytest.approx(source.probability, abs=1e-3)
    assert under.logit == source.logit and under.calibration == "calibrated for kermany-test"
