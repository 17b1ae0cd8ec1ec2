"""The site study's protocol: no film is ever scored by a fit whose sample held it or its patient."""
import numpy as np
import pytest

import pneumo_core.calibration.site as site
import pneumo_core.calibration.site_study as study
from pneumo_core.calibration.recalibration import Recalibration, sigmoid


def _split(seed: int = 0):
    """Synthetic split with several films per patient and a unique logit per film."""
    rng = np.random.default_rng(seed)
    patients, labels = [], []
    for p in range(160):
        label = int(p % 8 < 5)
        for _ in range(rng.integers(1, 4)):
            patients.append(f"{label}:{p}")
            labels.append(label)
    labels = np.array(labels)
    logits = rng.normal(0, 2, len(labels)) + 3 * labels + np.arange(len(labels)) * 1e-6
    return logits, labels, np.array(patients)


@pytest.fixture
def spy(monkeypatch):
    """Records, for every fit, which films it was fitted on and which it then scored."""
    calls = []

    def fit(x, y, prevalence=None):
        rec = Recalibration(0.0, 1.0, False)
        calls.append({"fit": set(np.round(x, 9))})

        class Probe(Recalibration):
            def probability(self, z):
                calls[-1].setdefault("scored", set()).update(np.round(z, 9))
                return sigmoid(np.asarray(z))
        return Probe(rec.intercept, rec.slope, rec.slope_fitted)

    monkeypatch.setattr(study, "fit_site_recalibration", fit)
    monkeypatch.setattr(site, "fit_site_recalibration", fit)
    return calls


def test_no_film_is_scored_by_a_fit_that_saw_it_or_its_patient(spy):
    logits, labels, patients = _split()
    patient_of = dict(zip(np.round(logits, 9), patients))
    study.run_site_study(logits, labels, patients, sizes=(25, 50), repeats=5)
    assert len(spy) == 2 * 5 + 5  # every draw, then the five out-of-fold fits
    for call in spy:
        fitted = {patient_of[v] for v in call["fit"]}
        scored = {patient_of[v] for v in call["scored"]}
        assert fitted and scored and not fitted & scored


def test_out_of_fold_probabilities_cover_every_film_once(spy):
    logits, labels, patients = _split(1)
    record = study.run_site_study(logits, labels, patients, sizes=(50,), repeats=2)
    oof = record["out_of_fold"]
    assert len(oof["probabilities"]) == len(logits) and set(oof["fold"]) == set(range(5))
    scored = [v for call in spy[-5:] for v in call["scored"]]
    assert len(scored) == len(set(scored)) == len(logits)


def test_draws_take_whole_patients_at_the_splits_prevalence():
    logits, labels, patients = _split(2)
    rng = np.random.default_rng(0)
    for n in (25, 50, 100):
        mask = study.draw_sample(rng, labels, patients, n)
        drawn = set(patients[mask])
        assert not np.isin(patients[~mask], list(drawn)).any()  # whole patients
        assert abs(mask.sum() - n) <= 4
        assert min((labels[mask] == c).sum() for c in (0, 1)) >= site.MIN_PER_CLASS
        assert abs(labels[mask].mean() - labels.mean()) < 0.12


def test_study_reports_mean_and_range_per_size_and_follows_the_slope_rule():
    logits, labels, patients = _split(3)
    record = study.run_site_study(logits, labels, patients, sizes=(25, 100), repeats=20)
    for n in ("25", "100"):
        for k in study.STUDY_METRICS:
            s = record["sizes"][n][k]
            assert s["p2_5"] <= s["mean"] <= s["p97_5"]
    # the slope rule: 25 films hold fewer than 20 of the rarer class, 100 hold more
    assert record["sizes"]["100"]["slope_fitted_share"] == 1.0 and record["sizes"]["25"]["slope_fitted_share"] == 0.0
