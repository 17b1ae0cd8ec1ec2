"""Monitoring a deployed model without labels: `drift` tests whether a batch of films
looks like the data the operating point was set on (a kernel two-sample test on the
model's penultimate features against a validation or site reference (`site_reference`), built on the
pure statistics in `mmd`), so a site learns to recalibrate before trusting the calls."""
from .drift import (LEVEL, MIN_BATCH, DriftReference, DriftReferenceError, build_reference, drift_test, load_reference,
                    verdict_text)
from .site_reference import reference_for, sample_reference

__all__ = ["DriftReference", "DriftReferenceError", "build_reference", "drift_test", "load_reference",
           "reference_for", "sample_reference", "verdict_text", "MIN_BATCH", "LEVEL"]
