"""Statistics that every layer uses: classification metrics with patient-bootstrap 95%
intervals, calibration error and curves (`metrics`). Pure numpy and scikit-learn; it imports
nothing else from pneumo_core, so calibration, evaluation and the app can all build on it."""

__all__ = ["metrics"]
