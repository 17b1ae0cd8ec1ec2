"""Adapting to a site from its unlabelled films, end to end through the product's path
(sandboxed decoding, the input gate), on the cheaper model: the contract, not the model."""
import json

import numpy as np
import pytest
import torch

from pneumo_core.adaptation.method import AdaptationMethod, MIN_FILMS, adapt
from pneumo_core.adaptation.normalisation import adapted_layers, apply_statistics, block_inputs, tail_start
from pneumo_core.adaptation.profile import profile_statistics
from pneumo_core.adaptation.source import load_class_moments, source_prevalence
from pneumo_core.calibration.site import SiteProfileError, load_profile, save_profile
from pneumo_core.data.preprocess import preprocess_batch
from pneumo_core.inference import site_adaptation
from pneumo_core.inference.predictor import Predictor
from pneumo_core.models.fusion import fuse_for_inference

MODEL = "paper_cnn"
METHOD = AdaptationMethod("corrected-test", 4, balance="corrected", rounds=2)  # a deep, label-aware candidate


@pytest.fixture(scope="module")
def films(test_images, tmp_path_factory):
    """A few more than MIN_FILMS site films (the gate may withhold one) under names that say
    nothing of their class, and 12 more for a second batch."""
    chosen = test_images["NORMAL"][:65] + test_images["PNEUMONIA"][:MIN_FILMS - 60]
    later = test_images["NORMAL"][60:66] + test_images["PNEUMONIA"][60:66]
    d = tmp_path_factory.mktemp("site-films")
    blind = []
    for i, f in enumerate(chosen):
        blind.append(d / f"film-{i:03d}.jpeg")
        blind[-1].write_bytes(f.read_bytes())
    return {"labelled": chosen, "blind": blind, "later": later}


@pytest.fixture(scope="module")
def predictor():
    return Predictor(MODEL)


@pytest.fixture(scope="module")
def adapted(films, predictor):
    return site_adaptation.adapt_site(predictor, [(f, f.name) for f in films["blind"]], name="north", method=METHOD)


def test_an_adapted_profile_keeps_moments_and_the_estimate_and_names_no_file(adapted, tmp_path):
    path = save_profile(adapted.profile, tmp_path / "north.json")
    text = path.read_text()
    assert "film-" not in text and "IM-" not in text and "person" not in text
    p = load_profile(path)
    assert adapted.used + len(adapted.withheld) == MIN_FILMS + 5 and p.adaptation["films"] == adapted.used
    assert set(profile_statistics(p)) == set(adapted_layers(Predictor(MODEL).bundle.model, METHOD.depth))
    assert 0.0 < p.adaptation["estimated_prevalence"] < 1.0 and p.site_prevalence == p.adaptation["estimated_prevalence"]
    assert "unlabelled" in p.describe() and not p.labelled


def test_an_adapted_profile_is_refused_for_other_weights(adapted):
    with pytest.raises(SiteProfileError, match="not for efficientnet_lite0"):
        Predictor("efficientnet_lite0", site=adapted.profile)


def test_adaptation_never_sees_labels(films, predictor, monkeypatch):
    """A spy on the one adaptation call: it receives the model, pixels' block inputs, a block
    index and the method, and nothing else; and the same films under their labelled names
    (NORMAL/..., person..._bacteria) give the very same moments as under blind names."""
    import pneumo_core.calibration.sample as sample
    monkeypatch.setattr(sample, "read_labelled", lambda *a, **k: pytest.fail("labels were read"))
    calls = []
    real = site_adaptation.adapt

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(site_adaptation, "adapt", spy)
    named = site_adaptation.adapt_site(predictor, [(f, str(f)) for f in films["labelled"]], name="x", method=METHOD)
    blind = site_adaptation.adapt_site(predictor, [(f, f.name) for f in films["blind"]], name="x", method=METHOD)
    assert len(calls) == 2
    for args, kwargs in calls:
        assert [type(a).__name__ for a in args] == ["PaperCNN", "Tensor", "int", "AdaptationMethod"]
        assert set(kwargs) == {"temperature", "source_prevalence", "moments"}
    a, b = profile_statistics(named.profile), profile_statistics(blind.profile)
    assert all(np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1]) for k in a)


def test_a_profile_from_one_batch_scores_another_as_a_fresh_model_with_those_moments(films, predictor, adapted):
    """The profile's predictor against a hand-built model: the bundle's network with the
    moments adapt() finds on the first batch's model inputs, fused, on the second batch."""
    first = list(predictor.predict_sources(((f, f.name) for f in films["blind"]), 0.5))
    inputs = np.stack([p.model_input for p in first if p.probability is not None])
    model = predictor.bundle.model
    start = tail_start(model, adapted_layers(model, METHOD.depth))
    with torch.inference_mode():
        h = block_inputs(model.eval(), preprocess_batch(inputs, predictor.spec), start)
    direct = adapt(model, h, start, METHOD, temperature=predictor.bundle.temperature,
                   source_prevalence=source_prevalence(predictor.bundle),
                   moments=load_class_moments(predictor.bundle.directory))
    import copy
    fresh = fuse_for_inference(apply_statistics(copy.deepcopy(model), direct.statistics))
    site = Predictor(MODEL, site=adapted.profile)
    second = [p for p in site.predict_sources(((f, f.name) for f in films["later"]), 0.5) if p.logit is not None]
    assert len(second) >= 10
    later = np.stack([p.model_input for p in second])
    with torch.inference_mode():
        want = fresh(preprocess_batch(later, predictor.spec)).squeeze(1).double().numpy() / predictor.bundle.temperature
    got = np.array([p.logit for p in second])
    assert np.allclose(got, want, atol=1e-4)
    scored = {p.file for p in second}
    source = np.array([p.logit for p in predictor.predict_sources(((f, f.name) for f in films["later"]), 0.5)
                       if p.file in scored])
    assert not np.allclose(got, source, atol=1e-3)  # the adaptation changed the scores


def test_fewer_films_than_the_minimum_are_refused_before_adapting(films, predictor):
    with pytest.raises(SiteProfileError, match=f"at least {MIN_FILMS}"):
        site_adaptation.adapt_site(predictor, [(f, f.name) for f in films["blind"][:5]], name="x", method=METHOD)


def test_adapting_from_a_predictor_that_already_holds_a_profile_is_refused(adapted, films):
    with pytest.raises(SiteProfileError, match="no site profile"):
        site_adaptation.adapt_site(Predictor(MODEL, site=adapted.profile), [(films["blind"][0], "a")], name="x")


def test_the_profiles_call_is_the_models_own_rule_on_the_adapted_logit(adapted):
    """The balanced threshold moves with the probability: P >= t' exactly when the source-
    calibrated P of the adapted logit is >= the model's own threshold."""
    p = adapted.profile
    own = Predictor(MODEL).bundle.thresholds["balanced"]
    z = np.linspace(-6, 6, 241)
    source_call = 1 / (1 + np.exp(-z)) >= own
    assert np.array_equal(p.probability(z) >= p.thresholds["balanced"], source_call)


def test_the_input_gate_reads_the_source_network_under_an_adapted_profile(films, predictor, adapted):
    """Whether a film can be read is the film's, not the site's: the same films are withheld
    or scored, and flagged unusual or not, with and without the adapted profile."""
    batch = films["labelled"][:12] + films["later"]
    source = list(predictor.predict_sources(((f, f.name) for f in batch), 0.5))
    site = list(Predictor(MODEL, site=adapted.profile).predict_sources(((f, f.name) for f in batch), 0.5))
    assert [p.status for p in source] == [p.status for p in site]
    assert [p.out_of_distribution for p in source] == [p.out_of_distribution for p in site]
    assert [p.ood_score for p in source] == pytest.approx([p.ood_score for p in site])


def test_the_case_report_says_the_model_was_adapted_without_labels(adapted):
    from pneumo_core.reporting.words import calibration_detail
    text = calibration_detail(adapted.profile, 1.0)
    assert "adapted without labels" in text and "north" in text and "labelled films" not in text


def test_a_profile_whose_moments_were_edited_to_nonsense_is_refused(adapted):
    """A profile is a file anyone can edit: a non-finite mean or a negative variance must not
    reach the network (it would score every film NaN)."""
    import copy
    for bad in (float("nan"), float("inf")):
        edited = copy.deepcopy(adapted.profile)
        layer = next(iter(edited.adaptation["layers"].values()))
        layer["mean"][0] = bad
        with pytest.raises(SiteProfileError, match="not finite"):
            Predictor(MODEL, site=edited)
    edited = copy.deepcopy(adapted.profile)
    next(iter(edited.adaptation["layers"].values()))["var"][0] = -1.0
    with pytest.raises(SiteProfileError, match="negative"):
        Predictor(MODEL, site=edited)


def test_a_profile_with_a_malformed_adaptation_section_is_refused_on_reading(adapted):
    from dataclasses import asdict

    from pneumo_core.calibration.site import profile_json
    good = json.loads(profile_json(adapted.profile))
    assert load_profile(json.dumps(good).encode()).adaptation == good["adaptation"]
    for breaks in ({"layers": []}, {"films": "many"}, {"estimated_prevalence": 1.5}, {"layers": {"x": {"mean": 1}}}):
        bad = {**asdict(adapted.profile), "adaptation": {**good["adaptation"], **breaks}}
        with pytest.raises(SiteProfileError, match="adaptation section is malformed"):
            load_profile(json.dumps(bad).encode())


def test_the_operating_point_from_the_sites_scores_never_sees_labels(films, predictor, monkeypatch):
    """A spy on the one fitting call: it receives the films' scores and nothing that names them,
    and the same films under their labelled names (NORMAL/..., person..._bacteria) give the very
    same profile as under blind names."""
    from pneumo_core.adaptation.score_mixture import MIXTURES, fit_operating_point
    seen = []

    def spy(scores, *args, **kwargs):
        seen.append((scores, args, kwargs))
        return fit_operating_point(scores, *args, **kwargs)
    monkeypatch.setattr(site_adaptation, "fit_operating_point", spy)
    method = next(m for m in MIXTURES if m.family == "shift-class")
    named = site_adaptation.adapt_site(predictor, [(f, str(f)) for f in films["labelled"]], name="x", method=method)
    blind = site_adaptation.adapt_site(predictor, [(f, f.name) for f in films["blind"]], name="x", method=method)
    assert len(seen) == 2
    for scores, args, kwargs in seen:
        assert isinstance(scores, np.ndarray) and scores.dtype.kind == "f"
        assert not any(isinstance(v, (str, list, tuple)) for v in (*args, *kwargs.values()))
    assert named.profile.intercept == blind.profile.intercept
    assert named.profile.thresholds == blind.profile.thresholds
    assert named.profile.adaptation["threshold_logit"] == blind.profile.adaptation["threshold_logit"]
    assert named.profile.adaptation["layers"] == {} and named.profile.adaptation["method"] == method.name


def test_an_operating_point_profile_calls_pneumonia_exactly_at_the_fitted_threshold(films, predictor):
    from pneumo_core.adaptation.score_mixture import MIXTURES
    method = next(m for m in MIXTURES if m.family == "shift")
    site = site_adaptation.adapt_site(predictor, [(f, f.name) for f in films["blind"]], name="x", method=method)
    p, t = site.profile, site.profile.adaptation["threshold_logit"]
    for logit in (t - 0.01, t + 0.01):
        assert (p.probability(np.array([logit]))[0] >= p.thresholds["balanced"]) == (logit >= t)
