"""Adapting a model to a new site from its unlabelled films: normalisation moments
re-estimated on the site's films (`normalisation`), how and how deep (`method`), the
site's prevalence by EM (`prevalence`), what is known of the source (`source`), and the
site profile that carries it all (`profile`)."""
from .prevalence import PrevalenceEstimate, estimate_prevalence, shift_posteriors

# torch-free on import, like `calibration`: the modules that need torch are imported by name
__all__ = ["PrevalenceEstimate", "estimate_prevalence", "shift_posteriors"]
