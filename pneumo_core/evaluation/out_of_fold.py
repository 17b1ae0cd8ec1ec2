"""A test film under a profile fitted on the test split is scored out of fold.

The shipped `kermany-test` profile was fitted on the whole official test split, so its own
recalibration scores those films in-sample: too good to be true. The site study scored each
of them with a fit on the other four of five patient-grouped folds, one that never saw its
patient (`site_study_test.json`: each film's fold and the probability it got). Wherever such a
film is shown or printed under such a profile (the command line's line, the app's case and its
heatmap check, a renamed upload of the same bytes), its logits go through its fold's fit
instead of the profile's: `honest_probabilities`, the one function. The folds' fits are made
again exactly as the study made them, from its folds and eval_test.json's logits, and must give
back every probability the study recorded. Films are recognised by the sha256 of their bytes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..calibration.recalibration import Recalibration, logit
from ..calibration.site import fit_site_recalibration
from ..stats.decision import call_label
from .operating_point import fitted_on_split

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile
    from ..inference.prediction import Prediction
    from ..inference.predictor import Predictor

__all__ = ["OUT_OF_FOLD", "REPRODUCED", "test_film_digests", "out_of_fold_probabilities", "fold_fits",
           "fitted_on_test_split", "fold_recalibration", "honest_probabilities", "honest_prediction"]

OUT_OF_FOLD = "out of fold: scored by a site fit that did not see this patient"
REPRODUCED = 1e-9  # how closely the folds' fits, made again, must give back the study's probabilities


@lru_cache(maxsize=4)
def test_film_digests(data_dir: str) -> dict[str, str]:
    """{sha256 of the bytes: key} for the official test films under `data_dir` (keys as in eval_test.json)."""
    root = Path(data_dir)
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p.relative_to(root).as_posix()
            for p in sorted(root.glob("test/*/*")) if p.is_file()}


@lru_cache(maxsize=8)
def _cached_json(path: str, stamp: int) -> dict:
    return json.loads(Path(path).read_text())


def _json(path: Path) -> dict:
    """The file's JSON, read again only when it changes (a gallery asks once per film)."""
    s = path.stat()
    return _cached_json(str(path), s.st_mtime_ns ^ s.st_size)


def _study(model_dir: Path) -> dict:
    path = Path(model_dir) / "site_study_test.json"
    return (_json(path).get("out_of_fold_evaluation") or {}) if path.is_file() else {}


def out_of_fold_probabilities(model_dir: Path) -> dict[str, float]:
    """{key: out-of-fold probability} as the model's site study recorded them ({} when it ships none)."""
    return {p["file"]: float(p["probability"]) for p in _study(model_dir).get("predictions", [])}


@lru_cache(maxsize=4)
def _fits(model_dir: str, stamps: tuple[int, ...]) -> dict[str, Recalibration]:
    study, ev = _study(Path(model_dir)), _json(Path(model_dir) / "eval_test.json")
    if study.get("model_sha256") != ev.get("model_sha256"):
        raise ValueError(f"{model_dir}: the site study and eval_test.json score different weights; run `pneumo site study` again")
    source = {p["file"]: float(p["probability"]) for p in ev["predictions"]}
    rows = study["predictions"]
    x = logit(np.array([source[p["file"]] for p in rows]))
    y = np.array([p["label"] == "PNEUMONIA" for p in rows], int)
    fold = np.asarray(study["fold"])
    fits = {k: fit_site_recalibration(x[fold != k], y[fold != k]) for k in np.unique(fold)}
    made = np.empty(len(rows))
    for k, fit in fits.items():
        made[fold == k] = fit.probability(x[fold == k])
    if np.max(np.abs(made - [p["probability"] for p in rows])) > REPRODUCED:
        raise ValueError(f"{model_dir}: the site study's folds do not give back its probabilities from "
                         "eval_test.json's logits; run `pneumo dev evaluate` and `pneumo site study` again")
    return {p["file"]: fits[k] for p, k in zip(rows, fold)}


def fold_fits(model_dir: Path) -> dict[str, Recalibration]:
    """{key: the recalibration that scored this test film out of fold in the site study} ({}
    without a study). Raises ValueError when the study and eval_test.json are of other runs."""
    study, ev = Path(model_dir) / "site_study_test.json", Path(model_dir) / "eval_test.json"
    if not (study.is_file() and ev.is_file() and _study(model_dir).get("fold")):
        return {}
    return _fits(str(model_dir), tuple(p.stat().st_mtime_ns ^ p.stat().st_size for p in (study, ev)))


def fitted_on_test_split(profile: SiteProfile | None, model_dir: Path, shipped: bool) -> bool:
    """Whether `profile` was fitted on the official test split (see `operating_point.fitted_on_split`)."""
    ev = Path(model_dir) / "eval_test.json"
    return profile is not None and ev.is_file() and fitted_on_split(profile, _json(ev), shipped)


def fold_recalibration(digest: str, profile: SiteProfile | None, model_dir: Path, data_dir: Path,
                       shipped: bool = False) -> Recalibration | None:
    """The fit that scored this film out of fold when it is a test film and `profile` was fitted
    on the test split; None otherwise (then the profile's own recalibration is honest)."""
    if not fitted_on_test_split(profile, model_dir, shipped):  # first: hashing the test split is the dear part
        return None
    key = test_film_digests(str(data_dir)).get(digest)
    return None if key is None else fold_fits(model_dir).get(key)


def honest_probabilities(logits: Sequence[float], digest: str, predictor: Predictor, data_dir: Path,
                         shipped: bool = False) -> tuple[np.ndarray, bool]:
    """(P(pneumonia) of one film's source-calibrated logits as they may be shown, whether out of
    fold): `predictor.calibrate` (its profile's rule), except for a test film under a profile
    fitted on the test split, whose fold's fit scores them. The one function for every P of a
    film printed or shown: its score, and its heatmap check's before and after."""
    fit = fold_recalibration(digest, predictor.site, predictor.bundle.directory, data_dir, shipped)
    return (predictor.calibrate(logits), False) if fit is None else (fit.probability(logits), True)


def honest_prediction(pred: Prediction, predictor: Predictor, data_dir: Path) -> Prediction:
    """`pred` (made by `predictor`) as it may be printed or shown: out of fold, with the call at
    the same threshold and a warning that says so, when `honest_probabilities` says; any other
    prediction comes back as it is."""
    if pred.probability is None or pred.logit is None or not pred.sha256:
        return pred
    probs, out_of_fold = honest_probabilities([pred.logit], pred.sha256, predictor, data_dir)
    if not out_of_fold:
        return pred
    p = float(probs[0])
    return replace(pred, probability=p, label=call_label(p, pred.threshold), warnings=[*pred.warnings, OUT_OF_FOLD])
