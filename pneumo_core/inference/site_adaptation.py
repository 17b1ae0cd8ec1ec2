"""Adapting a model to a site from its unlabelled films, through the product's own path: each
film is decoded in the sandbox and passes the input gate (a withheld film never shapes the
adaptation); the films the model would call are the ones adapted on, as scored (turned
upright, never a negative). One home for the CLI's `site adapt` and the app's flow."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

from ..adaptation.method import DEFAULT_METHOD, AdaptationMethod, adapt
from ..adaptation.normalisation import adapted_layers, block_inputs, tail_start
from ..adaptation.profile import build_adapted_profile, build_operating_point_profile, check_film_count
from ..adaptation.score_mixture import DEFAULT_MIXTURE, ScoreMixture, fit_operating_point
from ..adaptation.source import load_class_moments, load_source_scores, source_prevalence
from ..calibration.recalibration import logit
from ..calibration.site import SiteProfile, SiteProfileError
from ..data.preprocess import preprocess_batch
from .prediction import Prediction
from .predictor import Predictor

__all__ = ["AdaptedSite", "adapt_site", "adapt_predictions"]

_CHUNK = 32


@dataclass
class AdaptedSite:
    profile: SiteProfile
    used: int                       # films adapted on
    withheld: list[tuple[str, str]]  # (name, reason): unreadable or not assessed


def _block_inputs(predictor: Predictor, films: list[np.ndarray], start: int) -> torch.Tensor:
    model = predictor.bundle.model.eval()
    with torch.inference_mode():
        return torch.cat([block_inputs(model, preprocess_batch(np.stack(films[i:i + _CHUNK]), predictor.spec), start)
                          for i in range(0, len(films), _CHUNK)])


SiteMethod = AdaptationMethod | ScoreMixture


def _default_method() -> SiteMethod:
    return DEFAULT_MIXTURE if DEFAULT_MIXTURE is not None else DEFAULT_METHOD


def adapt_predictions(predictor: Predictor, predictions: Iterable[Prediction], *, name: str,
                      method: SiteMethod | None = None) -> AdaptedSite:
    """The profile from already-scored films (`predictor` must hold no profile: the
    adaptation starts from the source model). Labels are not among the inputs."""
    if predictor.site is not None:
        raise SiteProfileError("adapt from the model itself: score the films with no site profile")
    method = method or _default_method()
    films, keys, scores, withheld = [], [], [], []
    for pred in predictions:
        if pred.probability is None or pred.model_input is None or pred.logit is None:
            withheld.append((pred.file, pred.unscored_reason))
        else:
            films.append(np.asarray(pred.model_input, np.uint8))
            keys.append(pred.file)
            scores.append(float(pred.logit))
    check_film_count(len(films))
    bundle = predictor.bundle
    if isinstance(method, ScoreMixture):
        fit = fit_operating_point(np.asarray(scores), load_source_scores(bundle.directory), method,
                                  source_threshold=float(logit(bundle.thresholds["balanced"])),
                                  source_prevalence=source_prevalence(bundle))
        profile = build_operating_point_profile(
            fit, method, keys, name=name, model=bundle.name, model_sha256=bundle.meta.model_sha256,
            thresholds=bundle.thresholds, threshold_rule=dict(bundle.meta.threshold_rule),
            source_prevalence=source_prevalence(bundle))
        return AdaptedSite(profile, len(films), withheld)
    start = tail_start(bundle.model, adapted_layers(bundle.model, method.depth))
    moments = load_class_moments(bundle.directory) if method.balance == "corrected" else None
    with predictor.lock:
        adaptation = adapt(bundle.model, _block_inputs(predictor, films, start), start, method,
                           temperature=bundle.temperature, source_prevalence=source_prevalence(bundle), moments=moments)
    profile = build_adapted_profile(adaptation, keys, name=name, model=bundle.name, model_sha256=bundle.meta.model_sha256,
                                    thresholds=bundle.thresholds,
                                    threshold_rule=dict(bundle.meta.threshold_rule))
    return AdaptedSite(profile, len(films), withheld)


def adapt_site(predictor: Predictor, sources: list[tuple[bytes | str, str]], *, name: str,
               method: SiteMethod | None = None,
               progress: Callable[[int, int], None] | None = None) -> AdaptedSite:
    """Scores `(path_or_bytes, name)` sources with the source model, then adapts on them."""
    def scored() -> Iterable[Prediction]:
        for i, pred in enumerate(predictor.predict_sources(iter(sources), 0.5)):
            if progress is not None:
                progress(i + 1, len(sources))
            yield pred
    return adapt_predictions(predictor, scored(), name=name, method=method)
