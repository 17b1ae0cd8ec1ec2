"""The operating point from a site's own scores: where its unlabelled films' classes separate.

The model's ranking transfers to a new site far better than where its threshold sits: the
scores of both classes move, and the source threshold then over- or under-calls. The site's
films still form two groups on the score axis. A two-component model of the site's
calibrated logits, fitted jointly with the site's prevalence by EM, finds where they are;
the model's own threshold then moves as far as the fitted classes move their balanced point
(Youden's J on the fitted classes, against the same on the source's), so with no shift it
stays where validation put it.

Families (`ScoreMixture.family`):
- ``shift``: each class's score distribution is the source's (a kernel density of the
  validation films' logits), moved by one common offset: the threshold moves by it.
- ``shift-class``: each class moved by its own offset (both classes move, not alike).
- ``gaussian``: two free Gaussians, started from the source classes.
``guarded``: the threshold is at most the highest at which the fitted pneumonia class keeps
a sensitivity of 0.98 (the model's own screening floor); ``give``: at most the highest at
which the fitted sensitivity is within `give` of what the source threshold has on the
source's own films (half the selection rule's safety margin, the rest left for the fit's error).

A fit falls back to the source threshold (and the prevalence alone is estimated) when the
site's scores do not separate into two groups: the fitted classes' own balanced accuracy
below `MIN_SEPARATION`, an estimated prevalence outside [0.02, 0.98] (one class: nothing to
separate), or an offset at the edge of the search. Labels are never an argument.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, ndtr

from .prevalence import estimate_prevalence

__all__ = ["ScoreMixture", "SourceScores", "MixtureFit", "MIXTURES", "DEFAULT_MIXTURE", "MIN_SEPARATION",
           "fit_operating_point", "mixture_named"]

MIN_SEPARATION = 0.90     # the fitted classes' balanced accuracy below which the site's scores do not separate
PREVALENCE_RANGE = (0.02, 0.98)
SCREENING_SENSITIVITY = 0.98
MAX_OFFSET = 8.0          # calibrated-logit units searched either way
_GRID = np.arange(-60.0, 60.0 + 1e-9, 0.02)
_TAIL = 0.01              # weight of a wide component under each kernel density: no film is impossible
_ITER = 200


@dataclass(frozen=True)
class ScoreMixture:
    name: str
    family: str               # "shift" | "shift-class" | "gaussian"
    guarded: bool = False     # fitted sensitivity kept at SCREENING_SENSITIVITY or more
    give: float | None = None  # fitted sensitivity kept within this of the source threshold's own

    def describe(self) -> str:
        how = {"shift": "each class's source score distribution moved by one common offset",
               "shift-class": "each class's source score distribution moved by its own offset",
               "gaussian": "two Gaussian components started from the source classes"}[self.family]
        guard = ("; at most the threshold that keeps 98% fitted sensitivity" if self.guarded else
                 f"; at most the threshold whose fitted sensitivity is within {self.give} of the source threshold's "
                 "own on the source's films" if self.give is not None else "")
        return (f"operating point from the site's own scores: a two-component model ({how}) fitted with the "
                f"prevalence by EM; the model's threshold moved as far as the fitted classes' balanced point "
                f"(Youden's J) moved{guard}")


MIXTURES: tuple[ScoreMixture, ...] = (
    ScoreMixture("scores-shift", "shift"),
    ScoreMixture("scores-shift-class", "shift-class"),
    ScoreMixture("scores-shift-class-guarded", "shift-class", guarded=True),
    ScoreMixture("scores-gaussian", "gaussian"),
    ScoreMixture("scores-gaussian-guarded", "gaussian", guarded=True),
    # the guard tied to the selection rule's safety margin: half of it given up at most, the other
    # half left for the fit's own error
    ScoreMixture("scores-shift-give0.01", "shift", give=0.01),
    ScoreMixture("scores-shift-class-give0.01", "shift-class", give=0.01),
    ScoreMixture("scores-shift-class-give0.005", "shift-class", give=0.005),
)


@dataclass(frozen=True)
class SourceScores:
    """Each class's calibrated logits on the source's validation films, as densities on a grid."""
    normal: np.ndarray
    pneumonia: np.ndarray
    log_density: np.ndarray = field(init=False, repr=False)  # (2, grid)
    cdf: np.ndarray = field(init=False, repr=False)          # (2, grid)

    def __post_init__(self) -> None:
        logd, cdf = [], []
        for s in (np.asarray(self.normal, np.float64), np.asarray(self.pneumonia, np.float64)):
            if len(s) < 10 or not np.isfinite(s).all():
                raise ValueError("each class needs at least 10 finite source scores")
            h = max(0.9 * min(s.std(), np.subtract(*np.percentile(s, [75, 25])) / 1.34) * len(s) ** -0.2, 0.2)
            d = np.exp(-0.5 * ((_GRID[:, None] - s[None, :]) / h) ** 2).mean(1) / (h * np.sqrt(2 * np.pi))
            wide = np.exp(-np.abs(_GRID - np.median(s)) / 4.0) / 8.0  # Laplace, scale 4
            d = (1 - _TAIL) * d + _TAIL * wide
            logd.append(np.log(d))
            c = np.cumsum(d) * (_GRID[1] - _GRID[0])
            cdf.append(c / c[-1])
        object.__setattr__(self, "log_density", np.stack(logd))
        object.__setattr__(self, "cdf", np.stack(cdf))

    def logpdf(self, cls: int, x: np.ndarray) -> np.ndarray:
        return np.interp(x, _GRID, self.log_density[cls])

    def cdf_at(self, cls: int, x: np.ndarray) -> np.ndarray:
        return np.interp(x, _GRID, self.cdf[cls])


@dataclass(frozen=True)
class MixtureFit:
    threshold: float          # on the calibrated logit: the call is PNEUMONIA at or above it
    prevalence: float         # estimated without labels
    fallback: str | None      # why the source threshold was kept, or None
    sensitivity: float        # the fitted classes' own, at the threshold (an estimate, not a measurement)
    specificity: float
    params: dict


def _em_prevalence(ll0: np.ndarray, ll1: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """EM for the mixing weight only, vectorised over rows (offsets): (prevalence, log-lik) per row."""
    pi = np.full(ll0.shape[0], prior)
    m = np.maximum(ll0, ll1)
    d0, d1 = np.exp(ll0 - m), np.exp(ll1 - m)
    for _ in range(_ITER):
        r = pi[:, None] * d1 / (pi[:, None] * d1 + (1 - pi[:, None]) * d0)
        new = r.mean(1)
        if np.max(np.abs(new - pi)) < 1e-7:
            pi = new
            break
        pi = new
    pi = np.clip(pi, 1e-6, 1 - 1e-6)
    return pi, (np.log(pi[:, None] * d1 + (1 - pi[:, None]) * d0) + m).sum(1)


def _best_offset(logpdf, scores: np.ndarray, w: np.ndarray, around: float, half: float, step: float) -> float:
    grid = np.arange(around - half, around + half + step / 2, step)
    ll = np.array([(w * logpdf(scores - d)).sum() for d in grid])
    return float(grid[int(np.argmax(ll))])


def _fit_shift(scores: np.ndarray, src: SourceScores, prior: float) -> tuple[float, float, float]:
    """Common offset by profile likelihood on a coarse then a fine grid; returns (offset, offset, prevalence)."""
    def search(grid: np.ndarray) -> tuple[float, float]:
        x = scores[None, :] - grid[:, None]
        pi, ll = _em_prevalence(src.logpdf(0, x), src.logpdf(1, x), prior)
        k = int(np.argmax(ll))
        return float(grid[k]), float(pi[k])
    d, _ = search(np.arange(-MAX_OFFSET, MAX_OFFSET + 1e-9, 0.1))
    d, pi = search(np.arange(d - 0.1, d + 0.1 + 1e-9, 0.005))
    return d, d, pi


def _fit_shift_class(scores: np.ndarray, src: SourceScores, prior: float) -> tuple[float, float, float]:
    d0, d1, pi = _fit_shift(scores, src, prior)
    for _ in range(50):
        l0, l1 = src.logpdf(0, scores - d0), src.logpdf(1, scores - d1)
        r = expit(np.log(pi) + l1 - np.log1p(-pi) - l0)
        pi = float(np.clip(r.mean(), 1e-6, 1 - 1e-6))
        n0 = _best_offset(lambda x: src.logpdf(0, x), scores, 1 - r, d0, 1.0, 0.01)
        n1 = _best_offset(lambda x: src.logpdf(1, x), scores, r, d1, 1.0, 0.01)
        if abs(n0 - d0) < 1e-9 and abs(n1 - d1) < 1e-9:
            break
        d0, d1 = float(np.clip(n0, -MAX_OFFSET, MAX_OFFSET)), float(np.clip(n1, -MAX_OFFSET, MAX_OFFSET))
    return d0, d1, pi


def _fit_gaussian(scores: np.ndarray, src: SourceScores, prior: float) -> tuple[np.ndarray, np.ndarray, float]:
    mu = np.array([np.mean(src.normal), np.mean(src.pneumonia)], np.float64)
    sd = np.array([np.std(src.normal), np.std(src.pneumonia)], np.float64)
    pi = prior
    for _ in range(_ITER):
        l0 = -0.5 * ((scores - mu[0]) / sd[0]) ** 2 - np.log(sd[0])
        l1 = -0.5 * ((scores - mu[1]) / sd[1]) ** 2 - np.log(sd[1])
        r = expit(np.log(pi) + l1 - np.log1p(-pi) - l0)
        w = np.stack([1 - r, r])
        n = w.sum(1) + 1e-9
        new_mu = (w * scores).sum(1) / n
        sd = np.sqrt((w * (scores - new_mu[:, None]) ** 2).sum(1) / n).clip(0.25)
        new_pi = float(np.clip(r.mean(), 1e-6, 1 - 1e-6))
        done = np.max(np.abs(new_mu - mu)) < 1e-7 and abs(new_pi - pi) < 1e-9
        mu, pi = new_mu, new_pi
        if done:
            break
    return mu, sd, pi


def _youden(spec_at, sens_at, lo: float, hi: float) -> float:
    """The threshold maximising fitted sensitivity + specificity; the middle of a flat top."""
    t = np.arange(lo, hi + 1e-9, 0.01)
    j = spec_at(t) + sens_at(t)
    top = t[j >= j.max() - 1e-6]
    return float((top[0] + top[-1]) / 2)


def fit_operating_point(scores: np.ndarray, source: SourceScores, method: ScoreMixture, *, source_threshold: float,
                        source_prevalence: float) -> MixtureFit:
    """The site's threshold and prevalence from its calibrated logits `scores` (one per film)."""
    s = np.asarray(scores, np.float64)
    if s.ndim != 1 or len(s) < 2 or not np.isfinite(s).all():
        raise ValueError("need one finite score per film")
    if method.family == "gaussian":
        mu, sd, pi = _fit_gaussian(s, source, source_prevalence)
        mu0 = np.array([np.mean(source.normal), np.mean(source.pneumonia)])
        sd0 = np.array([np.std(source.normal), np.std(source.pneumonia)])
        def spec_at(t, m=mu, d=sd): return ndtr((t - m[0]) / d[0])
        def sens_at(t, m=mu, d=sd): return ndtr((m[1] - t) / d[1])
        def source_sensitivity(t): return sens_at(t, mu0, sd0)
        moved = (_youden(spec_at, sens_at, *sorted(mu))
                 - _youden(lambda t: spec_at(t, mu0, sd0), lambda t: sens_at(t, mu0, sd0), *sorted(mu0)))
        lo, hi = sorted(mu)
        params = {"means": mu.tolist(), "sds": sd.tolist()}
        edge = mu[1] <= mu[0]
    else:
        fit = _fit_shift if method.family == "shift" else _fit_shift_class
        d0, d1, pi = fit(s, source, source_prevalence)
        def spec_at(t, a=d0): return source.cdf_at(0, t - a)
        def sens_at(t, b=d1): return 1 - source.cdf_at(1, t - b)
        def source_sensitivity(t): return sens_at(t, 0.0)
        lo, hi = source_threshold + min(d0, d1) - 8, source_threshold + max(d0, d1) + 8
        moved = d0 if method.family == "shift" else (
            _youden(spec_at, sens_at, lo, hi)
            - _youden(lambda t: spec_at(t, 0.0), lambda t: sens_at(t, 0.0), source_threshold - 8, source_threshold + 8))
        params = {"offsets": [d0, d1]}
        edge = max(abs(d0), abs(d1)) >= MAX_OFFSET - 1e-6
    # the model's own threshold, moved as far as the fitted classes move their balanced point:
    # with no shift it is the source threshold itself, whatever the smoothing
    t = source_threshold + moved
    separation = float((sens_at(np.array([t]))[0] + spec_at(np.array([t]))[0]) / 2)  # at the balanced point
    if method.guarded or method.give is not None:
        floor = (SCREENING_SENSITIVITY if method.guarded else
                 float(source_sensitivity(np.array([source_threshold]))[0]) - method.give)
        grid = np.arange(lo - 6, hi + 6 + 1e-9, 0.01)
        keeps = grid[sens_at(grid) >= floor]
        if len(keeps):
            t = min(t, float(keeps.max()))
    sens, spec = float(sens_at(np.array([t]))[0]), float(spec_at(np.array([t]))[0])
    reason = None
    if edge:
        reason = ("these films' scores moved further from the model's own than this method follows, so the model's "
                  "own threshold is kept")
    elif not PREVALENCE_RANGE[0] <= pi <= PREVALENCE_RANGE[1]:
        reason = ("these films look like one group (nearly all normal, or nearly all pneumonia): there is no boundary "
                  "between two groups to find")
    elif separation < MIN_SEPARATION:
        reason = "these films' scores do not fall into two clear groups: there is no boundary between them to find"
    if reason is not None:
        pi = estimate_prevalence(expit(s), source_prevalence).prevalence
        return MixtureFit(float(source_threshold), float(pi), reason, float("nan"), float("nan"), params)
    return MixtureFit(t, float(pi), None, sens, spec, params)


def mixture_named(name: str) -> ScoreMixture:
    found = {m.name: m for m in MIXTURES}
    if name not in found:
        raise ValueError(f"unknown operating-point method {name!r}; known: {', '.join(found)}")
    return found[name]


# The method adapt-site uses: the one `evaluation.threshold_study.SELECTION_RULE` chooses on
# validation shifts (weights/efficientnet_lite0/adapt_study_val.json, docs/site-adaptation.md).
DEFAULT_MIXTURE: ScoreMixture | None = mixture_named("scores-shift-class-give0.01")
