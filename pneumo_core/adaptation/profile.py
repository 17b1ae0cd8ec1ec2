"""A site profile made without labels: the adapted normalisation moments, the estimated
prevalence, and the probability and thresholds that follow from them.

The profile is the same `SiteProfile` that `calibrate-site` writes (one schema, one reader,
one writer), with its `adaptation` section filled in and no labelled counts. Its numbers:
- the probability is the adapted model's source-calibrated probability moved by Bayes' rule
  from the source's prevalence to the estimated one (`recalibration.prior_shift`);
- the named thresholds are the model's own (Youden's J on validation, prevalence-free)
  carried through the same move, so the call is the model's decision rule on the adapted
  features and does not swing with the estimate: a screening site and a ward keep the
  same sensitivity and specificity, which is what the study measures.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Mapping, Sequence

import numpy as np
from torch import nn

from ..calibration.recalibration import Recalibration, logit, prior_shift, sigmoid
from ..calibration.site import SiteProfile, SiteProfileError, files_digest
from .method import MIN_FILMS, Adaptation
from .score_mixture import MixtureFit, ScoreMixture
from .normalisation import Statistics, apply_statistics

__all__ = ["build_adapted_profile", "build_operating_point_profile", "profile_statistics", "adapted_model",
           "check_film_count"]

_SIGNIFICANT = 7  # digits kept in the profile's JSON: float32 moments round-trip


def check_film_count(n: int) -> None:
    if n < MIN_FILMS:
        raise SiteProfileError(f"adapting to a site needs at least {MIN_FILMS} readable films; got {n}")


def _rule(threshold_rule: str | Mapping[str, str], name: str) -> str:
    """The rule of the threshold `name`: each its own (a screening threshold is not chosen by
    the balanced rule), or one text for all (older callers)."""
    return threshold_rule.get(name, "fitted on validation") if isinstance(threshold_rule, Mapping) else threshold_rule


def _encode(statistics: Statistics) -> dict:
    return {name: {"mean": [float(f"{v:.{_SIGNIFICANT}g}") for v in mean],
                   "var": [float(f"{v:.{_SIGNIFICANT}g}") for v in var]} for name, (mean, var) in statistics.items()}


def profile_statistics(profile: SiteProfile) -> Statistics:
    """The adapted moments a profile carries (empty when it carries none)."""
    layers = (profile.adaptation or {}).get("layers", {})
    return {name: (np.asarray(v["mean"], np.float64), np.asarray(v["var"], np.float64)) for name, v in layers.items()}


def adapted_model(model: nn.Module, profile: SiteProfile | None) -> nn.Module:
    """`model` as the profile adapted it: a copy with the profile's moments, or `model` itself."""
    statistics = profile_statistics(profile) if profile is not None else {}
    if not statistics:
        return model
    try:
        return apply_statistics(copy.deepcopy(model), statistics)
    except ValueError as exc:
        raise SiteProfileError(f"site profile {profile.name!r} does not fit this model: {exc}") from None


_LABEL_FREE_WARNING = ("adapted without labels: no measured accuracy at this site; the adaptation study "
                       "(docs/site-adaptation.md) says how the method does at other sites")


def _label_free_profile(*, name: str, model: str, model_sha256: str, intercept: float, thresholds: dict[str, float],
                        rules: dict[str, str], prevalence: float, prevalence_source: str, files: Sequence[str],
                        recalibration_rule: str, warnings: list[str], adaptation: dict) -> SiteProfile:
    """A site profile made from unlabelled films: no labelled counts, no estimate measured at the
    site, the prevalence an estimate (what both label-free builders share)."""
    from .. import __version__
    return SiteProfile(
        name=name, model=model, model_sha256=model_sha256, intercept=intercept, slope=1.0, slope_fitted=False,
        thresholds=thresholds, threshold_rules=rules, counts={"NORMAL": 0, "PNEUMONIA": 0}, patients=0,
        sample_prevalence=float(prevalence), site_prevalence=float(prevalence), prevalence_source=prevalence_source,
        cost_ratio=1.0, estimates={}, files_sha256=files_digest(files),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), pneumo_core_version=__version__,
        recalibration_rule=recalibration_rule, warnings=[_LABEL_FREE_WARNING, *warnings], adaptation=adaptation)


def build_adapted_profile(adaptation: Adaptation, files: Sequence[str], *, name: str, model: str, model_sha256: str,
                          thresholds: dict[str, float], threshold_rule: str | Mapping[str, str]) -> SiteProfile:
    """The profile of one adaptation. `thresholds` are the model's own named thresholds (on
    its source-calibrated probability); `files` only feed the sample's digest."""
    check_film_count(adaptation.films)
    shift = prior_shift(Recalibration(0.0, 1.0, False), adaptation.source_prevalence, adaptation.prevalence).intercept
    moved = {k: float(sigmoid(logit(t) + shift)) for k, t in thresholds.items()}
    rules = {k: (f"the model's own {k} threshold ({_rule(threshold_rule, k)}), moved with the probability from the source's "
                 f"prevalence to the estimated one: P >= {moved[k]:.3g} here, the same call on the adapted model "
                 "at any prevalence") for k in moved}
    m = adaptation.method
    return _label_free_profile(
        name=name, model=model, model_sha256=model_sha256, intercept=shift, thresholds=moved, rules=rules,
        prevalence=adaptation.prevalence, prevalence_source="estimated without labels (EM on the adapted posteriors)",
        files=files, recalibration_rule="Bayes' rule on the odds: the intercept moves the source prevalence to the "
                                        "estimated one", warnings=[],
        adaptation={"method": m.name, "description": m.describe(), "films": adaptation.films,
                    "estimated_prevalence": float(adaptation.prevalence),
                    "source_prevalence": float(adaptation.source_prevalence),
                    "layers": _encode(adaptation.statistics)})


def build_operating_point_profile(fit: MixtureFit, method: ScoreMixture, files: Sequence[str], *, name: str, model: str,
                                  model_sha256: str, thresholds: dict[str, float], threshold_rule: str | Mapping[str, str],
                                  source_prevalence: float) -> SiteProfile:
    """The profile of an operating point fitted on a site's scores. The shown probability is
    the source's, moved by the threshold's offset and then to the estimated prevalence; the
    named thresholds move with it, so the call is PNEUMONIA exactly when the film's
    calibrated logit reaches the fitted threshold."""
    check_film_count(len(files))
    source_threshold = float(logit(thresholds["balanced"]))
    prior = float(logit(fit.prevalence) - logit(source_prevalence))
    intercept = source_threshold - fit.threshold + prior
    moved = {k: float(sigmoid(logit(t) + prior)) for k, t in thresholds.items()}
    fitted = (f"P >= {moved['balanced']:.3g} here: a film is called PNEUMONIA when its score reaches the point where "
              "this site's own two groups of films separate")
    if fit.fallback is not None:
        rules = {k: f"the model's own {k} threshold ({_rule(threshold_rule, k)}), kept: {fit.fallback}" for k in moved}
    else:
        rules = {k: fitted if k == "balanced" else
                 f"the model's own {k} threshold ({_rule(threshold_rule, k)}), moved with the balanced one: P >= {moved[k]:.3g}"
                 for k in moved}
    return _label_free_profile(
        name=name, model=model, model_sha256=model_sha256, intercept=intercept, thresholds=moved, rules=rules,
        prevalence=fit.prevalence, prevalence_source="estimated without labels (EM on the site's scores)", files=files,
        recalibration_rule="the source probability moved by the fitted threshold's offset, then by Bayes' rule on the "
                           "odds to the estimated prevalence",
        warnings=[f"operating point kept at the model's own: {fit.fallback}"] if fit.fallback else [],
        adaptation={"method": method.name, "description": method.describe(), "films": len(files),
                    "estimated_prevalence": float(fit.prevalence), "source_prevalence": float(source_prevalence),
                    "layers": {}, "threshold_logit": float(fit.threshold), "source_threshold_logit": source_threshold,
                    "fallback": fit.fallback,
                    "fitted_sensitivity": None if fit.fallback else float(fit.sensitivity),
                    "fitted_specificity": None if fit.fallback else float(fit.specificity)})
