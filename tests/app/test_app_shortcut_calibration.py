"""The shortcut check's P on the page is the P the page shows, from the same function as the
case's own P and its heatmap check (`out_of_fold.honest_probabilities`): the source
calibration's without a site profile, the profile's recalibration of the same logits under
one, and for a test film under the profile fitted on the test split, the fit of its fold."""
import hashlib
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REPO

from pneumo_core.app.reading import scoring, shortcut
from pneumo_core.app.runtime import resources
from pneumo_core.inference.shortcut import ShortcutFinding

MODEL = "efficientnet_lite0"
LOGITS = (2.0, 1.0)  # source-calibrated, before and after the marker is filled in
TEST_FILM = REPO / "data" / "test" / "NORMAL" / "IM-0110-0001.jpeg"


@pytest.fixture(scope="module")
def study_profile():
    return resources.site_profile(resources.shipped_site_files(MODEL)["kermany-test"])


def _check(monkeypatch, site, digest="d" * 64, flagged=True):
    found = ShortcutFinding((0, 0, 16, 16), 1, flagged, False, 3.0 if flagged else None, 1.5 if flagged else None)
    monkeypatch.setattr(shortcut, "_finding", lambda *a, **k: (found, LOGITS if flagged else ()))
    monkeypatch.setattr(shortcut, "weights_stamp", lambda model: 0)
    settings = SimpleNamespace(model=MODEL, threshold=0.5, site=site)
    case = SimpleNamespace(model_input=np.zeros((224, 224), np.uint8), digest=digest)
    heatmap = SimpleNamespace(method="layercam-occ3", target_class="PNEUMONIA", heatmap=np.zeros((224, 224), np.float32))
    return shortcut.shortcut_check(case, heatmap, settings)


def _region_check_p(site, digest):
    heatmap = SimpleNamespace(logit_before=LOGITS[0], logit_after=LOGITS[1], digest=digest, model=MODEL,
                              target_class="PNEUMONIA", fraction=0.2)
    check = scoring.region_check(heatmap, site, 0.5)
    return check.p_before, check.p_after


def test_without_a_profile_the_check_gives_the_source_calibrations_p_of_its_logits(monkeypatch):
    c = _check(monkeypatch, None)
    assert (c.p_before, c.p_after) == pytest.approx((1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(-1.0))))


def test_under_a_profile_a_film_off_the_test_split_gets_the_profiles_recalibration(monkeypatch, study_profile):
    c = _check(monkeypatch, study_profile)
    assert (c.p_before, c.p_after) == pytest.approx(tuple(study_profile.probability(np.array(LOGITS))))


def test_a_test_film_under_the_test_split_profile_gets_its_folds_p_as_its_heatmap_check_does(monkeypatch, study_profile):
    digest = hashlib.sha256(TEST_FILM.read_bytes()).hexdigest()
    c = _check(monkeypatch, study_profile, digest)
    in_sample = tuple(study_profile.probability(np.array(LOGITS)))
    assert (c.p_before, c.p_after) == pytest.approx(_region_check_p(study_profile, digest))
    assert abs(c.p_before - in_sample[0]) > 1e-4  # out of fold, not the profile's own in-sample fit


def test_a_check_with_nothing_flagged_has_no_scores(monkeypatch, study_profile):
    c = _check(monkeypatch, study_profile, flagged=False)
    assert c.outcome == "clear" and c.p_before is None and c.logit_after is None
