"""The shortcut check's P on the page is the P the page shows: the source calibration's without
a site profile, the profile's recalibration of the same logits under one (as the heatmap's own
check), and an adapted profile's own network's P as it comes."""
from types import SimpleNamespace

import numpy as np
import pytest

from pneumo_core.app.reading import shortcut
from pneumo_core.inference.shortcut import ShortcutFinding

T = 1.5  # the model's temperature: the check's logits are the raw ones divided by it


class Site:
    """A site profile that recalibrates by a fixed shift of the log-odds."""
    adaptation_digest = ""

    def probability(self, logits):
        return 1 / (1 + np.exp(-(np.asarray(logits) - 1.0)))


def _check(monkeypatch, site, flagged=True):
    found = ShortcutFinding((0, 0, 16, 16), 1, flagged, False, 3.0 if flagged else None, 1.5 if flagged else None)
    source = (3.0 / T, 1.5 / T, 0.88, 0.73) if flagged else ()
    monkeypatch.setattr(shortcut, "_finding", lambda *a, **k: (found, source))
    monkeypatch.setattr(shortcut, "weights_stamp", lambda model: 0)
    s = SimpleNamespace(model="efficientnet_lite0", threshold=0.5, site=site)
    r = SimpleNamespace(model_input=np.zeros((224, 224), np.uint8), digest="d" * 64)
    hm = SimpleNamespace(method="layercam-occ3", target_class="PNEUMONIA", heatmap=np.zeros((224, 224), np.float32))
    return shortcut.shortcut_check(r, hm, s)


def test_without_a_profile_the_check_keeps_the_source_probabilities(monkeypatch):
    c = _check(monkeypatch, None)
    assert (c.p_before, c.p_after) == (0.88, 0.73) and c.logit_before == pytest.approx(2.0)


def test_under_a_profile_the_check_recalibrates_the_same_logits_as_the_page_does(monkeypatch):
    c = _check(monkeypatch, Site())
    assert c.p_before == pytest.approx(Site().probability(2.0)) and c.p_after == pytest.approx(Site().probability(1.0))


def test_an_adapted_profiles_probabilities_come_from_its_own_network_unchanged(monkeypatch):
    site = Site()
    site.adaptation_digest = "moments"
    c = _check(monkeypatch, site)
    assert (c.p_before, c.p_after) == (0.88, 0.73)


def test_a_check_with_nothing_flagged_has_no_scores(monkeypatch):
    c = _check(monkeypatch, Site(), flagged=False)
    assert c.outcome == "clear" and c.p_before is None and c.logit_after is None
