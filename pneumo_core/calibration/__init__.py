"""Calibration: what turns a model's logit into the probability and the call a reader sees.

Two levels, as in clinical practice:

- `source`: the temperature and thresholds fitted on the model's own validation data
  (`shift` decides whether that fit pools simulated acquisition shifts). This is the
  default operating point that ships with the weights.
- `site`: a logistic recalibration of that logit on a small labelled sample from the
  hospital where the model is used (`recalibration` fits it, `site` holds the profile
  schema, its fit and its cross-fitted estimates, `site_study` measures the procedure on a
  labelled split). Ranking transfers between sites far better than the probability scale,
  so a labelled site profile changes the probability and the thresholds, never the ranking.
  An adapted profile (`adaptation`, from unlabelled films) also brings the network's own
  normalisation moments for the site, so its scores, ranking included, are the adapted
  network's.
"""
from .source import (THRESHOLD_RULES, OperatingPoint, calibrated, fit_operating_point, fit_temperature,
                     screening_threshold, youden_threshold)

__all__ = ["OperatingPoint", "THRESHOLD_RULES", "fit_operating_point", "fit_temperature", "calibrated",
           "youden_threshold", "screening_threshold"]
