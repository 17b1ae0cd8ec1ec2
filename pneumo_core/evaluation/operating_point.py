"""What a threshold means for patients: expected sensitivity and specificity, with 95%
intervals, in the words a clinician reads ("finds about 9 in 10 children with pneumonia;
over-calls about 4 in 10 healthy children").

The numbers come from the shipped evaluation artifacts, never from a new scoring run:

* source calibration: `eval_test.json`'s per-film probabilities, with the patient bootstrap
  the evaluation itself uses (`stats.metrics.threshold_metrics_ci`, same resample count and
  seed, so at a preset the interval is the file's own);
* a site profile fitted on the official test split (the shipped `kermany-test`, or any
  profile whose film list is the split's): the out-of-fold probabilities of
  `site_study_test.json` (no film scored by a fit that saw its patient), same bootstrap;
* any other site profile: its own cross-fitted estimate, which exists at one threshold
  only (`estimates["threshold"]`); elsewhere there is no honest estimate and the answer is None.

Per-film arrays are read once per file version (`_films`), so a slider can ask for every
position. No Streamlit here: the app caches `operating_point` in `app.operating_point`.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..stats.metrics import threshold_metrics_ci

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile

__all__ = ["OperatingPoint", "operating_point", "about_in_ten", "fitted_on_split", "STUDY_PROFILE", "SAME_THRESHOLD"]

STUDY_PROFILE = "kermany-test"  # the shipped profile fitted on the whole official test split
SAME_THRESHOLD = 1e-6  # a slider value this close to a profile's estimate threshold is that threshold
_DEFAULT_N_BOOT = 1000


def about_in_ten(rate: float) -> str:
    """A proportion as a natural frequency a reader can picture, by one rule: "about N in 10"
    (N rounded half up) where N is 1 to 9; near either end, where tens would round to all or
    none, "about N in 100"; and words only where hundreds would too ("nearly all", "almost
    none"), so a 0.995 does not read as a certainty, a 0.97 as "10 in 10", nor a 0.03 as never."""
    if rate >= 1:
        return "all"
    if rate <= 0:
        return "none"
    tens = math.floor(rate * 10 + 0.5)
    if 1 <= tens <= 9:
        return f"about {tens} in 10"
    hundreds = math.floor(rate * 100 + 0.5)
    if hundreds >= 100:
        return "nearly all"
    if hundreds <= 0:
        return "almost none"
    return f"about {hundreds} in 100"


def _ci3(value: float, ci: tuple[float, float]) -> str:
    """Three decimals, as the metrics table prints them: two round 0.995 (0.987-1.000) to
    0.99 (0.99-1.00) and hide the distinction the table shows."""
    return f"{value:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"


@dataclass(frozen=True)
class OperatingPoint:
    """Expected sensitivity and specificity at one threshold, with 95% intervals, and
    where they come from in plain words."""
    threshold: float
    sensitivity: float
    sensitivity_ci: tuple[float, float]   # 95%, patient bootstrap (or the profile's cross-fitted interval)
    specificity: float
    specificity_ci: tuple[float, float]
    n_pneumonia: int
    n_normal: int
    source: str            # plain words: which films and which calibration these figures come from

    @property
    def over_call_rate(self) -> float:
        """Share of healthy children called PNEUMONIA: 1 - specificity."""
        return 1.0 - self.specificity

    def in_words(self) -> str:
        """ "finds about 9 in 10 children with pneumonia; over-calls about 4 in 10 healthy children" """
        return (f"finds {about_in_ten(self.sensitivity)} children with pneumonia; "
                f"over-calls {about_in_ten(self.over_call_rate)} healthy children")

    def in_numbers(self) -> str:
        """The same figures with their intervals, and where they come from."""
        return (f"sensitivity {_ci3(self.sensitivity, self.sensitivity_ci)}, specificity "
                f"{_ci3(self.specificity, self.specificity_ci)}; {self.source}, "
                f"{self.n_pneumonia + self.n_normal} films ({self.n_pneumonia} pneumonia, {self.n_normal} normal)")


def _stamp(path: Path) -> int:
    s = path.stat()
    return s.st_mtime_ns ^ s.st_size


@lru_cache(maxsize=16)
def _read(path: str, stamp: int) -> dict:
    return json.loads(Path(path).read_text())


@lru_cache(maxsize=16)
def _films(path: str, stamp: int, key: str | None = None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], int, str]:
    """(labels 0/1, probabilities, patient per film, bootstrap resamples, calibration words)
    of an evaluation in eval_test.json's layout (at `key` inside the file when given)."""
    evaluation = _read(path, stamp)
    if key is not None:
        evaluation = evaluation[key]
    preds = [p for p in evaluation["predictions"] if p.get("probability") is not None]  # a withheld film has no call
    labels = np.array([p["label"] == "PNEUMONIA" for p in preds], dtype=int)
    probs = np.array([p["probability"] for p in preds], dtype=float)
    patients = tuple(p.get("patient", p["file"]) for p in preds)
    m = re.match(r"\s*(\d+)", str(evaluation.get("bootstrap", "")))
    return labels, probs, patients, int(m.group(1)) if m else _DEFAULT_N_BOOT, str(evaluation.get("calibration", ""))


def _from_films(path: Path, threshold: float, source: str, key: str | None = None) -> OperatingPoint:
    labels, probs, patients, n_boot, _ = _films(str(path), _stamp(path), key)
    m = threshold_metrics_ci(labels, probs, threshold, n_boot=n_boot, seed=0, groups=patients)
    ci = lambda k: (m[k]["ci_low"], m[k]["ci_high"])  # noqa: E731
    return OperatingPoint(float(threshold), m["recall"]["value"], ci("recall"), m["specificity"]["value"],
                          ci("specificity"), int(labels.sum()), int((1 - labels).sum()), source)


def _split_keys(evaluation: dict) -> list[list[str]]:
    """The test films' keys as a profile may have hashed them: relative to data/ (test/NORMAL/x)
    or to the split folder it was fitted on (NORMAL/x)."""
    keys = [p["file"] for p in evaluation["predictions"]]
    return [keys, [k.split("/", 1)[1] if "/" in k else k for k in keys]]


def fitted_on_split(profile: SiteProfile, evaluation: dict, shipped: bool = False) -> bool:
    """Whether the profile's sample is exactly this evaluation's films (its file-list hash
    matches), or it is the shipped test-split profile: then only out-of-fold figures are honest."""
    from ..calibration.site import files_digest
    if profile.files_sha256 in {files_digest(keys) for keys in _split_keys(evaluation)}:
        return True
    return shipped and profile.name == STUDY_PROFILE


def _site_estimate(site: SiteProfile, threshold: float) -> OperatingPoint | None:
    """The profile's cross-fitted estimate, at the one threshold it was made for."""
    est = site.estimates or {}
    t = est.get("threshold")
    if t is None or abs(float(t) - threshold) > SAME_THRESHOLD:
        return None
    sens, spec = est.get("sensitivity"), est.get("specificity")
    if not (isinstance(sens, dict) and isinstance(spec, dict)):
        return None
    c = site.counts
    return OperatingPoint(float(threshold), float(sens["value"]), (float(sens["ci_low"]), float(sens["ci_high"])),
                          float(spec["value"]), (float(spec["ci_low"]), float(spec["ci_high"])),
                          int(c.get("PNEUMONIA", 0)), int(c.get("NORMAL", 0)),
                          "cross-fitted on the site profile's own labelled films")


def operating_point(model_dir: Path, threshold: float, site: SiteProfile | None = None,
                    shipped: bool = False) -> OperatingPoint | None:
    """Expected sensitivity and specificity at `threshold` under the calibration in use
    (see the module docstring); None when no artifact supports an estimate there.

    Args:
        model_dir: the model's folder (weights/<model>), holding eval_test.json and
            site_study_test.json.
        threshold: PNEUMONIA is called when the (calibrated) probability >= threshold.
        site: the site profile in use, or None for the source calibration.
        shipped: the profile is one shipped with the model (weights/<model>/sites/).

    Example:
        >>> op = operating_point(Path("weights/efficientnet_lite0"), 0.174)
        >>> op.in_words()  # doctest: +SKIP
        'finds about 99 in 100 children with pneumonia; over-calls about 4 in 10 healthy children'
    """
    model_dir = Path(model_dir)
    ev_path = model_dir / "eval_test.json"
    if site is None:
        if not ev_path.is_file():
            return None
        return _from_films(ev_path, threshold, "official test split, calibrated on validation data")
    study_path = model_dir / "site_study_test.json"
    if ev_path.is_file() and study_path.is_file() \
            and fitted_on_split(site, _read(str(ev_path), _stamp(ev_path)), shipped) \
            and "out_of_fold_evaluation" in _read(str(study_path), _stamp(study_path)):
        return _from_films(study_path, threshold, "official test split, site-calibrated out of fold "
                           "(each film scored by a fit that did not see its patient)", key="out_of_fold_evaluation")
    return _site_estimate(site, threshold)
