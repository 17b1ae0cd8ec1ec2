"""Site profiles: a model's calibration for one hospital, fitted on a small labelled sample
of its own films, or adapted to its unlabelled films (`adaptation`), or both; saved as JSON
beside (or apart from) the weights.

A profile holds only numbers: the recalibration, the thresholds derived from it, counts, the
cross-fitted estimates, an adapted profile's normalisation moments and estimated prevalence,
and a hash of the sorted file list. Never a file name or anything about a patient. It is
bound to one weights file by sha256 and refused for any other.

Thresholds are derived from the recalibrated probability and a stated cost, never picked by
maximising a metric on the sample: a cut-off optimised on the same small sample overstates
its accuracy (Leeflang et al., Clin Chem 2008).

Across the package a parameter or attribute named `site` holds such a profile, or its name
where only a label is needed (a `Prediction`, a report); never the hospital, a study or a
simulated shift (docs/glossary.md).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import PneumoError
from .recalibration import RECALIBRATION_RULE, Recalibration, fit_recalibration, prior_shift

__all__ = ["SiteProfile", "SiteProfileError", "SCHEMA_VERSION", "MIN_PER_CLASS", "WIDE_BELOW_PER_CLASS",
           "DEFAULT_COST_RATIO", "site_thresholds", "fit_site_recalibration", "cross_fitted_estimates",
           "build_site_profile", "files_digest", "load_profile", "save_profile", "profile_json", "shipped_profiles",
           "resolve_profile"]

SCHEMA_VERSION = 1
MIN_PER_CLASS = 10          # fewer films of a class: refused
WIDE_BELOW_PER_CLASS = 50   # fewer: the estimates are wide, and the profile says so
DEFAULT_COST_RATIO = 4.0    # a missed pneumonia weighs as much as four false alarms
CROSS_FIT_FOLDS = 5
ESTIMATES = ("accuracy", "sensitivity", "specificity", "ece")


class SiteProfileError(PneumoError, ValueError):
    """A sample that cannot support a profile, or a profile that does not fit the model."""


def site_thresholds(cost_ratio: float = DEFAULT_COST_RATIO) -> tuple[dict[str, float], dict[str, str]]:
    """Decision thresholds on a calibrated probability: call PNEUMONIA when the expected cost
    of a miss, P x cost, exceeds that of a false alarm, (1 - P) x 1."""
    if not cost_ratio >= 1.0:
        raise SiteProfileError(f"the miss : false-alarm cost ratio must be at least 1, not {cost_ratio}")
    thresholds = {"balanced": 0.5, "screening": 1.0 / (1.0 + cost_ratio)}
    rules = {"balanced": "site-calibrated P >= 0.5: a miss and a false alarm weigh the same, at the site's prevalence",
             "screening": (f"site-calibrated P >= {thresholds['screening']:.3g}: a missed pneumonia weighs "
                           f"{cost_ratio:g} false alarms")}
    return thresholds, rules


def fit_site_recalibration(logits: np.ndarray, labels: np.ndarray, prevalence: float | None = None) -> Recalibration:
    """The one fit every profile, fold and study repeat uses. Without `prevalence` the sample
    is taken as consecutive cases (its prevalence is the site's); with it, the intercept is
    moved from the sample's prevalence to the stated one."""
    fit = fit_recalibration(logits, labels)
    if prevalence is None:
        return fit
    return prior_shift(fit, float(np.mean(labels)), prevalence)


def _folds(labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold
    k = min(n_folds, *(len(np.unique(groups[labels == c])) for c in (0, 1)))
    if k < 2:
        raise SiteProfileError("cross-fitting needs at least two patients of each class")
    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels, groups))


def out_of_fold_probabilities(logits: np.ndarray, labels: np.ndarray, groups: Sequence, n_folds: int = CROSS_FIT_FOLDS,
                              prevalence: float | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each film's site-calibrated probability from a fit on the other patients' folds, and
    its fold. No film is scored by a fit whose sample held it or its patient."""
    x, y, g = np.asarray(logits, np.float64), np.asarray(labels, int), np.asarray(groups)
    probs, fold_of = np.empty(len(y)), np.empty(len(y), int)
    for k, (fit_rows, out_rows) in enumerate(_folds(y, g, n_folds, seed)):
        fit = fit_site_recalibration(x[fit_rows], y[fit_rows], prevalence)
        probs[out_rows] = fit.probability(x[out_rows])
        fold_of[out_rows] = k
    return probs, fold_of


def cross_fitted_estimates(logits: np.ndarray, labels: np.ndarray, groups: Sequence, threshold: float = 0.5,
                           prevalence: float | None = None, n_boot: int = 1000) -> dict:
    """Accuracy, sensitivity, specificity and ECE of the out-of-fold probabilities at
    `threshold`, with 95% intervals from a bootstrap of whole patients."""
    from ..stats.metrics import metrics_with_ci
    probs, folds = out_of_fold_probabilities(logits, labels, groups, prevalence=prevalence)
    m = metrics_with_ci(np.asarray(labels, int), probs, threshold, n_boot=n_boot, groups=list(groups))
    names = {"accuracy": "accuracy", "sensitivity": "recall", "specificity": "specificity", "ece": "ece"}
    out = {k: {kk: float(v) for kk, v in m[src].items()} for k, src in names.items()}
    return {"method": (f"{int(folds.max()) + 1} patient-grouped folds of the sample: each fold scored by a fit on the "
                       f"others, at the balanced threshold; 95% intervals from {n_boot} bootstrap resamples of "
                       "whole patients"), "threshold": threshold, **out}


def files_digest(files: Sequence[str]) -> str:
    """sha256 of the sorted file list: tells two profiles' samples apart without naming a file."""
    return hashlib.sha256("\n".join(sorted(str(f) for f in files)).encode()).hexdigest()


@dataclass
class SiteProfile:
    """One site's calibration of one model (`model_sha256`). The JSON file is exactly
    `asdict(profile)`; `load_profile` and `save_profile` are its only reader and writer."""
    name: str
    model: str
    model_sha256: str
    intercept: float
    slope: float
    slope_fitted: bool
    thresholds: dict[str, float]
    threshold_rules: dict[str, str]
    counts: dict[str, int]
    patients: int
    sample_prevalence: float
    site_prevalence: float
    prevalence_source: str      # "sample (consecutive cases)" or "stated"
    cost_ratio: float
    estimates: dict
    files_sha256: str
    created: str
    pneumo_core_version: str
    recalibration_rule: str = RECALIBRATION_RULE
    default_threshold: str = "balanced"
    warnings: list[str] = field(default_factory=list)
    drift_reference: dict | None = None  # the sample's features as the drift alarm's reference (monitoring.drift)
    adaptation: dict | None = None  # normalisation moments re-estimated on the site's unlabelled films (adaptation)
    schema_version: int = SCHEMA_VERSION

    @property
    def recalibration(self) -> Recalibration:
        return Recalibration(self.intercept, self.slope, self.slope_fitted)

    def probability(self, logits: np.ndarray) -> np.ndarray:
        """Site-calibrated P(pneumonia) from the model's (source-calibrated) logits."""
        return self.recalibration.probability(logits)

    def check_model(self, model: str, model_sha256: str) -> None:
        if model_sha256 != self.model_sha256:
            raise SiteProfileError(f"site profile {self.name!r} was fitted for {self.model} weights "
                                   f"{self.model_sha256[:12]}..., not for {model} {model_sha256[:12]}...; "
                                   "calibrate the site again for these weights")

    @cached_property
    def adaptation_digest(self) -> str:
        """Tells adapted models apart ("" when the profile adapts nothing): the moments' sha256,
        hashed once per profile (the app keys every cached score of a film on it)."""
        if not self.adaptation or not self.adaptation.get("layers"):
            return ""
        return hashlib.sha256(json.dumps(self.adaptation["layers"], sort_keys=True).encode()).hexdigest()

    @property
    def labelled(self) -> bool:
        """Fitted on labelled films (an adapted profile may be too, or not)."""
        return sum(self.counts.values()) > 0

    def describe(self) -> str:
        """One line for a reader: what the probability is calibrated on."""
        parts = []
        if self.adaptation:
            parts.append(f"adapted to {self.name} on {self.adaptation['films']} unlabelled films (estimated "
                         f"prevalence {self.adaptation['estimated_prevalence']:.0%})")
        if self.labelled:
            parts.append(f"calibrated for {self.name} on {sum(self.counts.values())} labelled films "
                         f"({self.counts['NORMAL']} NORMAL, {self.counts['PNEUMONIA']} PNEUMONIA)")
        return ", then ".join(parts)


def build_site_profile(logits: np.ndarray, labels: np.ndarray, groups: Sequence, files: Sequence[str], *, name: str,
                       model: str, model_sha256: str, prevalence: float | None = None,
                       cost_ratio: float = DEFAULT_COST_RATIO, n_boot: int = 1000, features: np.ndarray | None = None,
                       model_dir: str | Path | None = None, adaptation: dict | None = None) -> SiteProfile:
    """Fits a profile on a labelled sample (one logit, label, patient and file per film). Given
    the films' features and the model's folder, the profile also keeps the sample as the drift
    alarm's reference, so a later batch is compared with the films the site was calibrated on.
    `adaptation`: an adapted profile's section, kept when the logits came from that adapted
    model (adapt first, then calibrate on the few labels there are)."""
    from .. import __version__
    y = np.asarray(labels, int)
    counts = {"NORMAL": int((y == 0).sum()), "PNEUMONIA": int((y == 1).sum())}
    if min(counts.values()) < MIN_PER_CLASS:
        raise SiteProfileError(f"a site sample needs at least {MIN_PER_CLASS} films of each class; got "
                               f"{counts['NORMAL']} NORMAL and {counts['PNEUMONIA']} PNEUMONIA")
    if prevalence is not None and not 0.0 < prevalence < 1.0:
        raise SiteProfileError(f"--prevalence must be strictly between 0 and 1, not {prevalence}")
    thresholds, rules = site_thresholds(cost_ratio)
    fit = fit_site_recalibration(logits, y, prevalence)
    drift_reference = None
    if features is not None and model_dir is not None:
        from ..monitoring.site_reference import sample_reference
        drift_reference = sample_reference(model_dir, features, np.asarray(logits, np.float64), y, list(groups))
    warnings = []
    if min(counts.values()) < WIDE_BELOW_PER_CLASS:
        warnings.append(f"fewer than {WIDE_BELOW_PER_CLASS} films of a class: the estimates are wide; "
                        "about 100 of each give precise calibration")
    if not fit.slope_fitted:
        warnings.append("the sample is too small to fit a slope: only the intercept was recalibrated")
    return SiteProfile(
        name=name, model=model, model_sha256=model_sha256, intercept=fit.intercept, slope=fit.slope,
        slope_fitted=fit.slope_fitted, thresholds=thresholds, threshold_rules=rules, counts=counts,
        patients=len(set(groups)), sample_prevalence=float(y.mean()),
        site_prevalence=float(y.mean() if prevalence is None else prevalence),
        prevalence_source="sample (consecutive cases)" if prevalence is None else "stated",
        cost_ratio=float(cost_ratio),
        estimates=cross_fitted_estimates(logits, y, groups, thresholds["balanced"], prevalence, n_boot),
        files_sha256=files_digest(files), created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        pneumo_core_version=__version__, warnings=warnings, drift_reference=drift_reference, adaptation=adaptation)


def profile_json(profile: SiteProfile) -> str:
    """The profile's file content: the one writer of the schema (`save_profile` and the app's download)."""
    return json.dumps(asdict(profile), indent=1) + "\n"


def save_profile(profile: SiteProfile, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(profile_json(profile))
    return p


def profile_from_dict(d: dict) -> SiteProfile:
    if not isinstance(d, dict) or d.get("schema_version") != SCHEMA_VERSION:
        raise SiteProfileError(f"not a site profile of schema version {SCHEMA_VERSION}")
    try:
        profile = SiteProfile(**d)
    except TypeError as exc:
        raise SiteProfileError(f"not a valid site profile ({exc})") from None
    _check_adaptation(profile.adaptation)
    return profile


def _check_adaptation(a: object) -> None:
    """An adapted profile's section has the shape its readers expect (its numbers are checked
    when a model takes them: `adaptation.normalisation.apply_statistics`)."""
    if a is None:
        return
    ok = (isinstance(a, dict) and isinstance(a.get("films"), int) and isinstance(a.get("layers"), dict)
          and isinstance(a.get("estimated_prevalence"), (int, float)) and 0 < a["estimated_prevalence"] < 1
          and all(isinstance(v, dict) and isinstance(v.get("mean"), list) and isinstance(v.get("var"), list)
                  for v in a["layers"].values()))
    if not ok:
        raise SiteProfileError("not a valid site profile (its adaptation section is malformed)")


def load_profile(source: str | Path | bytes) -> SiteProfile:
    """From a path, or from the bytes of an uploaded file."""
    try:
        text = source.decode() if isinstance(source, bytes) else Path(source).read_text()
        return profile_from_dict(json.loads(text))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, SiteProfileError):
            raise
        raise SiteProfileError(f"cannot read the site profile ({type(exc).__name__}: {exc})") from None


def shipped_profiles(model_dir: str | Path) -> dict[str, Path]:
    """Named profiles shipped with a model: weights/<model>/sites/<name>.json."""
    return {p.stem: p for p in sorted((Path(model_dir) / "sites").glob("*.json"))}


def resolve_profile(name_or_path: str | Path, model_dir: str | Path) -> SiteProfile:
    """A shipped profile's name (`kermany-test`) or a path to a profile JSON."""
    shipped = shipped_profiles(model_dir)
    if str(name_or_path) in shipped:
        return load_profile(shipped[str(name_or_path)])
    if Path(name_or_path).is_file():
        return load_profile(name_or_path)
    raise SiteProfileError(f"no site profile {str(name_or_path)!r}: not a file, and not shipped with this model "
                           f"(shipped: {', '.join(shipped) or 'none'})")
