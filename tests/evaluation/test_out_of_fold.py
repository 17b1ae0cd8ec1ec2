"""A test film under the profile fitted on the test split is shown with its out-of-fold
probability, whatever it is called; anywhere else the profile's own probability stands; and
`evaluate` says so when a profile scores the films it was fitted on."""
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from pneumo_core.calibration.site import load_profile
from pneumo_core.evaluation.out_of_fold import out_of_fold_probability
from pneumo_core.models.bundle import WEIGHTS_DIR

MODEL_DIR = WEIGHTS_DIR / "paper_cnn"
DATA = REPO / "data"


@pytest.fixture(scope="module")
def study_profile():
    return load_profile(MODEL_DIR / "sites" / "kermany-test.json")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_test_film_gets_the_studys_out_of_fold_probability_under_the_study_profile(study_profile, test_images):
    film = test_images["PNEUMONIA"][3]
    study = json.loads((MODEL_DIR / "site_study_test.json").read_text())["out_of_fold_evaluation"]["predictions"]
    expected = next(p["probability"] for p in study if p["file"] == f"test/PNEUMONIA/{film.name}")
    assert out_of_fold_probability(_digest(film), study_profile, MODEL_DIR, DATA, shipped=True) == expected


def test_without_the_study_profile_or_for_another_film_nothing_is_replaced(study_profile, test_images, tmp_path):
    film = test_images["NORMAL"][0]
    assert out_of_fold_probability(_digest(film), None, MODEL_DIR, DATA, shipped=False) is None
    other = bytearray(film.read_bytes())
    other[-3] ^= 1
    assert out_of_fold_probability(hashlib.sha256(bytes(other)).hexdigest(), study_profile, MODEL_DIR, DATA,
                                   shipped=True) is None


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
    from pneumo_core.app.reading import scoring
    film = test_images["NORMAL"][5]
    r = scoring.score_file("paper_cnn", film.read_bytes(), "renamed.jpeg", study_profile)
    expected = out_of_fold_probability(_digest(film), study_profile, MODEL_DIR, DATA, shipped=True)
    assert r.probability == expected and "out of fold" in r.calibration
