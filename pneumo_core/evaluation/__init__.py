"""How good a model is, measured: a labelled split scored into the shipped evaluation layout
(`evaluate`), what a threshold means for patients (`operating_point`: sensitivity and
specificity with intervals, in words), the README's results tables (`results`), validation under simulated acquisition
shift (`robustness`) the heatmaps' sanity checks (`saliency_checks`) and the marker detector against hand-marked
validation films (`marker_detection`). The metrics
themselves live in `stats`. Nothing here feeds back into a model's choices except through
`robustness`, on validation data."""

__all__ = ["evaluate", "operating_point", "results", "robustness", "saliency_checks", "marker_detection"]
