"""The test split, one truth, through every door: a test film under the profile fitted on the
test split shows the same out-of-fold P on the app's case, in its heatmap check and on
`predict --site`'s line (issue #30's film: in-sample 0.515 PNEUMONIA, out of fold 0.4995 NORMAL),
and the app's P under a profile is the command line's."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from conftest import REPO, run_cli

from pneumo_core.app.reading import cases, scoring
from pneumo_core.app.runtime import resources
from pneumo_core.evaluation.out_of_fold import OUT_OF_FOLD, out_of_fold_probabilities
from pneumo_core.stats.display import format_probability

MODEL = "efficientnet_lite0"
KEY = "test/NORMAL/IM-0110-0001.jpeg"
FILM = REPO / "data" / KEY


@pytest.fixture(scope="module")
def study_profile():
    return resources.site_profile(resources.shipped_site_files(MODEL)["kermany-test"])


def _predict_line(path, site) -> dict:
    r = run_cli("predict", "--quiet", "--model", MODEL, "--site", str(site), str(path))
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    return json.loads(line)


def test_a_test_film_shows_the_studys_out_of_fold_p_in_the_app_its_check_and_the_command_line(study_profile, tmp_path):
    recorded = out_of_fold_probabilities(REPO / "weights" / MODEL)[KEY]  # what the site study wrote for this film
    case = scoring.score_file(MODEL, FILM.read_bytes(), "renamed.jpeg", study_profile)
    in_sample = float(study_profile.probability(np.array([case.logit]))[0])  # the profile's own fit, written out
    assert case.probability == pytest.approx(recorded, abs=1e-6) and OUT_OF_FOLD in cases.distinct_warnings(case)
    assert format_probability(case.probability) != format_probability(in_sample)  # 0.4995 against 0.515
    (row,) = cases.result_rows([case], 0.5, "balanced")  # the table and the CSV say so, as the command line's line
    assert OUT_OF_FOLD in row["warnings / error"] and row["calibration"] == "calibrated for kermany-test"
    called = "PNEUMONIA" if case.probability >= 0.5 else "NORMAL"
    check = scoring.region_check(scoring.heatmap_for(MODEL, case, "gradcam", called), study_profile, 0.5)
    assert format_probability(check.p_before) == format_probability(case.probability)  # the map's own pass
    renamed = tmp_path / "anything.jpeg"
    shutil.copy(FILM, renamed)
    line = _predict_line(renamed, "kermany-test")
    assert line["probability"] == pytest.approx(case.probability, abs=1e-9) and OUT_OF_FOLD in line["warnings"]
    assert line["label"] == called


def test_under_a_profile_not_fitted_here_the_apps_p_is_predict_sites_p(study_profile, tmp_path):
    """A profile the test split did not shape (the same recalibration, another sample): the app
    moves its cached score to the profile, the command line scores under it; one P."""
    elsewhere = replace(study_profile, name="elsewhere", files_sha256="0" * 64)
    path = tmp_path / "elsewhere.json"
    doc = json.loads(resources.shipped_site_files(MODEL)["kermany-test"].read_text())
    path.write_text(json.dumps({**doc, "name": "elsewhere", "files_sha256": "0" * 64}))
    case = scoring.score_file(MODEL, FILM.read_bytes(), "x.jpeg", elsewhere)
    a, b = elsewhere.intercept, elsewhere.slope
    assert case.probability == pytest.approx(1 / (1 + np.exp(-(a + b * case.logit))), abs=1e-12)
    assert OUT_OF_FOLD not in case.warnings
    line = _predict_line(FILM, path)
    assert line["probability"] == pytest.approx(case.probability, abs=1e-9) and line["site"] == "elsewhere"
