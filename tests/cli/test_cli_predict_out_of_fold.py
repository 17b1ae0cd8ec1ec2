"""The test split, one truth: a test film printed under a profile fitted on the test split
carries the probability the site study gave it out of fold (the app shows the same:
tests/app/test_app_out_of_fold.py), never the in-sample one."""
import json
import shutil

import pytest

from conftest import REPO, run_cli

from pneumo_core.evaluation.out_of_fold import OUT_OF_FOLD, out_of_fold_probabilities

KEY = "test/NORMAL/IM-0110-0001.jpeg"  # in-sample 0.515 PNEUMONIA under kermany-test, out of fold 0.4995 NORMAL
MODEL_DIR = REPO / "weights" / "efficientnet_lite0"


def _predict(*paths: str, site: str | None = "kermany-test") -> list[dict]:
    r = run_cli("predict", "--quiet", *(["--site", site] if site else []), *paths)
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_a_test_film_under_the_test_fitted_profile_prints_its_out_of_fold_probability_even_renamed(tmp_path):
    renamed = tmp_path / "anything.jpeg"
    shutil.copy(REPO / "data" / KEY, renamed)
    oof = out_of_fold_probabilities(MODEL_DIR)[KEY]
    for rec in _predict(str(REPO / "data" / KEY), str(renamed)):
        assert rec["probability"] == pytest.approx(oof, abs=1e-6) and OUT_OF_FOLD in rec["warnings"]
        assert rec["label"] == ("PNEUMONIA" if oof >= rec["threshold"] else "NORMAL")


def test_without_a_test_fitted_profile_the_film_keeps_the_models_own_probability():
    (rec,) = _predict(str(REPO / "data" / KEY), site=None)
    assert OUT_OF_FOLD not in rec["warnings"]
    assert rec["probability"] != pytest.approx(out_of_fold_probabilities(MODEL_DIR)[KEY], abs=1e-3)
