"""How good a model is, measured: metrics with patient-bootstrap intervals (`metrics`), a
labelled split scored into the shipped evaluation layout (`evaluate`), the README's results
tables (`results`), validation under simulated acquisition shift (`robustness`) and the
heatmaps' sanity checks (`saliency_checks`). Nothing here feeds back into a model's choices
except through `robustness`, on validation data."""

__all__ = ["metrics", "evaluate", "results", "robustness", "saliency_checks"]
