"""What the report and the banner say a site profile did: a label-free profile never reads as
a labelled one, a threshold-only adaptation never as re-estimated normalisation, and no
estimate is claimed 'at its balanced one' for a profile that has none anywhere."""
from dataclasses import replace

import pytest

from pneumo_core.calibration.site import SiteProfile
from pneumo_core.io.case_report import report_disclaimer
from pneumo_core.reporting.case import NO_ESTIMATE, NO_ESTIMATE_ADAPTED, no_estimate
from pneumo_core.reporting.words import calibration_clause, calibration_detail


def _profile(labelled: bool, adapted: str | None) -> SiteProfile:
    adaptation = None
    if adapted is not None:
        layers = {"_bn1": {"mean": [0.0], "var": [1.0]}} if adapted == "normalisation" else {}
        adaptation = {"method": "m", "description": "d", "films": 120, "estimated_prevalence": 0.3,
                      "source_prevalence": 0.74, "layers": layers}
    counts = {"NORMAL": 30, "PNEUMONIA": 30} if labelled else {"NORMAL": 0, "PNEUMONIA": 0}
    return SiteProfile(name="north", model="m", model_sha256="0" * 64, intercept=0.0, slope=1.0, slope_fitted=False,
                       thresholds={"balanced": 0.2}, threshold_rules={}, counts=counts, patients=0,
                       sample_prevalence=0.3, site_prevalence=0.3, prevalence_source="", cost_ratio=1.0,
                       estimates={}, files_sha256="", created="", pneumo_core_version="", adaptation=adaptation)


@pytest.mark.parametrize("adapted", ["threshold", "normalisation"])
def test_a_label_free_profile_is_never_said_to_be_fitted_on_labels(adapted):
    p = _profile(labelled=False, adapted=adapted)
    clause = calibration_clause(p)
    assert "without labels" in clause and "labelled sample" not in clause
    assert clause in report_disclaimer("north", clause)
    assert no_estimate(p) == NO_ESTIMATE_ADAPTED and "balanced one" not in no_estimate(p)


def test_a_labelled_profile_says_its_labelled_sample_and_keeps_its_balanced_estimate():
    p = _profile(labelled=True, adapted=None)
    assert "small labelled sample" in calibration_clause(p) and no_estimate(p) == NO_ESTIMATE


def test_a_threshold_only_adaptation_is_not_called_re_estimated_normalisation():
    assert "normalisation re-estimated" not in calibration_detail(_profile(False, "threshold"), 1.0)
    assert "the network unchanged" in calibration_detail(_profile(False, "threshold"), 1.0)
    assert "normalisation re-estimated" in calibration_detail(_profile(False, "normalisation"), 1.0)
