import numpy as np
import pytest

from pneumo_core.adaptation.prevalence import estimate_prevalence, shift_posteriors


def _posteriors_at_source(rng, n, prevalence, source_prior=0.74):
    """Posteriors of a well-calibrated model trained at `source_prior`, for films drawn at `prevalence`."""
    y = rng.random(n) < prevalence
    score = np.where(y, rng.normal(1.0, 1.0, n), rng.normal(-1.0, 1.0, n))
    lr = np.exp(2.0 * score)  # the exact likelihood ratio of N(1, 1) against N(-1, 1)
    odds = lr * source_prior / (1 - source_prior)
    return odds / (1 + odds)


@pytest.mark.parametrize("prevalence", [0.1, 0.5, 0.9])
def test_em_recovers_the_prevalence_of_a_label_shifted_sample(prevalence):
    rng = np.random.default_rng(1)
    found = estimate_prevalence(_posteriors_at_source(rng, 4000, prevalence), 0.74)
    assert abs(found.prevalence - prevalence) < 0.03
    assert abs(found.posteriors.mean() - found.prevalence) < 1e-4  # the fixed point: the prior is the mean posterior


def test_shifting_posteriors_to_the_source_prior_changes_nothing():
    p = np.array([0.01, 0.3, 0.5, 0.97])
    assert np.allclose(shift_posteriors(p, 0.74, 0.74), p)
    assert (shift_posteriors(p, 0.74, 0.2) < p).all()


def test_em_refuses_a_source_prior_outside_zero_and_one():
    with pytest.raises(ValueError):
        estimate_prevalence(np.array([0.5]), 1.0)
