"""A test film under the profile fitted on the test split is scored by the fit that did not
see its patient, whatever it is called; anywhere else the profile's own fit stands; and
`evaluate` says so when a profile scores the films it was fitted on."""
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from pneumo_core.calibration.recalibration import logit
from pneumo_core.calibration.site import load_profile
from pneumo_core.evaluation.out_of_fold import fold_fits, fold_recalibration
from pneumo_core.models.bundle import WEIGHTS_DIR

MODEL_DIR = WEIGHTS_DIR / "paper_cnn"
DATA = REPO / "data"


@pytest.fixture(scope="module")
def study_profile():
    return load_profile(MODEL_DIR / "sites" / "kermany-test.json")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _records(model_dir):
    study = json.loads((model_dir / "site_study_test.json").read_text())["out_of_fold_evaluation"]
    source = {p["file"]: p["probability"] for p in json.loads((model_dir / "eval_test.json").read_text())["predictions"]}
    return study, source


@pytest.mark.parametrize("model", ["paper_cnn", "efficientnet_lite0"])
def test_each_test_films_fit_made_again_gives_back_what_the_site_study_recorded_and_saw_no_film_of_its_fold(model):
    """The study wrote each film's probability and fold; the fits are made again from
    eval_test.json's logits, so equal probabilities (to 1e-9) say the fits are the study's."""
    study, source = _records(WEIGHTS_DIR / model)
    fits = fold_fits(WEIGHTS_DIR / model)
    for p in study["predictions"]:
        assert fits[p["file"]].probability([logit(source[p["file"]])])[0] == pytest.approx(p["probability"], abs=1e-9)
    by_fold = {}
    for p, fold in zip(study["predictions"], study["fold"]):
        by_fold.setdefault(fold, set()).add(fits[p["file"]])
    assert len(by_fold) == 5 and all(len(f) == 1 for f in by_fold.values())  # one fit per fold
    assert len(set.union(*by_fold.values())) == 5  # and five different fits


def test_a_test_film_gets_its_folds_fit_under_the_study_profile_not_the_profiles_own(study_profile, test_images):
    film = test_images["PNEUMONIA"][3]
    study, source = _records(MODEL_DIR)
    recorded = next(p["probability"] for p in study["predictions"] if p["file"] == f"test/PNEUMONIA/{film.name}")
    fit = fold_recalibration(_digest(film), study_profile, MODEL_DIR, DATA, shipped=True)
    x = logit(source[f"test/PNEUMONIA/{film.name}"])
    assert fit.probability([x])[0] == pytest.approx(recorded, abs=1e-9)
    assert (fit.intercept, fit.slope) != (study_profile.intercept, study_profile.slope)


def test_without_the_study_profile_or_for_another_film_nothing_is_replaced(study_profile, test_images):
    film = test_images["NORMAL"][0]
    assert fold_recalibration(_digest(film), None, MODEL_DIR, DATA) is None
    other = bytearray(film.read_bytes())
    other[-3] ^= 1
    assert fold_recalibration(hashlib.sha256(bytes(other)).hexdigest(), study_profile, MODEL_DIR, DATA,
                              shipped=True) is None


def test_a_site_study_from_another_run_than_eval_test_is_refused(tmp_path):
    """Folds that do not give back the study's probabilities would score a film by a fit nobody
    measured: refused, loudly, instead of shown."""
    for name in ("site_study_test.json", "eval_test.json"):
        shutil.copy(MODEL_DIR / name, tmp_path / name)
    doc = json.loads((tmp_path / "site_study_test.json").read_text())
    doc["out_of_fold_evaluation"]["predictions"][7]["probability"] += 1e-3
    (tmp_path / "site_study_test.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="run `pneumo dev evaluate` and `pneumo site study` again"):
        fold_fits(tmp_path)


def test_evaluate_under_the_profile_fitted_on_the_test_split_says_its_figures_are_in_sample(test_images, tmp_path):
    for cls in ("NORMAL", "PNEUMONIA"):
        (tmp_path / "test" / cls).mkdir(parents=True)
        for f in test_images[cls][:3]:
            shutil.copy(f, tmp_path / "test" / cls / f.name)
    out = tmp_path / "eval.json"
    r = subprocess.run([sys.executable, "-m", "pneumo_core", "evaluate", "--model", "paper_cnn", "--site", "kermany-test",
                        "--data", str(tmp_path), "--split", "test", "--bootstrap", "20", "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "in-sample" in r.stderr and "in-sample" in json.loads(out.read_text())["in_sample"]


def test_the_app_shows_a_test_film_under_the_study_profile_with_its_out_of_fold_probability(study_profile, test_images):
    from pneumo_core.app.reading import cases, scoring
    from pneumo_core.evaluation.out_of_fold import OUT_OF_FOLD
    film = test_images["NORMAL"][5]
    study, _ = _records(MODEL_DIR)
    recorded = next(p["probability"] for p in study["predictions"] if p["file"] == f"test/NORMAL/{film.name}")
    r = scoring.score_file("paper_cnn", film.read_bytes(), "renamed.jpeg", study_profile)
    assert r.probability == pytest.approx(recorded, abs=1e-6) and OUT_OF_FOLD in cases.distinct_warnings(r)
