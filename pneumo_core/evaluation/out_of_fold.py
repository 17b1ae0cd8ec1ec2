"""A test film under a profile fitted on the test split gets its out-of-fold probability.

The shipped `kermany-test` profile was fitted on the whole official test split, so its own
recalibration scores those films in-sample: too good to be true. The site study scored each
of them with a fit that never saw its patient (`site_study_test.json`, `out_of_fold_evaluation`);
wherever such a film is shown under such a profile (a gallery case, a bundled example, an
upload of the same bytes), that is the probability to show. Films are recognised by the sha256
of their bytes, so a renamed copy is recognised too.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .operating_point import fitted_on_split

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile
    from ..inference.prediction import Prediction

__all__ = ["OUT_OF_FOLD", "test_film_digests", "out_of_fold_probabilities", "out_of_fold_probability",
           "fitted_on_test_split", "honest_prediction"]

OUT_OF_FOLD = "out of fold: scored by a site fit that did not see this patient"


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


def out_of_fold_probabilities(model_dir: Path) -> dict[str, float]:
    """{key: out-of-fold probability} from the model's site study ({} when it ships none)."""
    path = Path(model_dir) / "site_study_test.json"
    if not path.is_file():
        return {}
    oof = _json(path).get("out_of_fold_evaluation") or {}
    return {p["file"]: float(p["probability"]) for p in oof.get("predictions", [])}


def fitted_on_test_split(profile: SiteProfile | None, model_dir: Path, shipped: bool) -> bool:
    """Whether `profile` was fitted on the official test split (see `operating_point.fitted_on_split`)."""
    ev = Path(model_dir) / "eval_test.json"
    return profile is not None and ev.is_file() and fitted_on_split(profile, _json(ev), shipped)


def out_of_fold_probability(digest: str, profile: SiteProfile | None, model_dir: Path, data_dir: Path,
                            shipped: bool) -> float | None:
    """The film's out-of-fold probability when it is a test film and `profile` was fitted on the
    test split; None otherwise (then the profile's own probability is honest)."""
    if not fitted_on_test_split(profile, model_dir, shipped):  # first: hashing the test split is the dear part
        return None
    key = test_film_digests(str(data_dir)).get(digest)
    return None if key is None else out_of_fold_probabilities(model_dir).get(key)


def honest_prediction(pred: "Prediction", profile: SiteProfile | None, model_dir: Path, data_dir: Path) -> "Prediction":
    """`pred` as it may be printed: a test film under a profile fitted on the test split gets its
    out-of-fold probability and the call at the same threshold, said in a warning; any other
    prediction comes back as it is. The command line's door (the app's is `out_of_fold_probability`
    on the reading room's case)."""
    from dataclasses import replace
    if pred.probability is None or not pred.sha256:
        return pred
    oof = out_of_fold_probability(pred.sha256, profile, model_dir, data_dir, shipped=False)
    if oof is None:
        return pred
    from ..stats.decision import call_label
    return replace(pred, probability=oof, label=call_label(oof, pred.threshold), warnings=[*pred.warnings, OUT_OF_FOLD])
