"""A study's image instances scored through the product path, one `Prediction` per instance.

Frontal chest films are fetched a batch at a time and handed to `Predictor.predict_sources`
as bytes, so `io.ingest.load` applies every rule it applies to an upload (size, decompression
bombs, DICOM checks) and the input gate has the last word. At most `batch_size` files are held
at once, whatever the size of the study. An instance that cannot be fetched gets an error line
and the rest go on; a server that cannot be reached at all fails every later fetch the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..inference.predictor import Prediction, Predictor
from .client import InstanceRef, PacsClient, PacsError
from .study import StudyPlan

__all__ = ["ScoredInstance", "score_study", "BATCH"]

BATCH = 8  # files held at once: 8 x ingest's 256 MB limit at worst, a few MB for usual films


@dataclass
class ScoredInstance:
    """One instance's prediction, with the file's bytes while they are at hand (None when
    it was not retrieved): what a caller needs to render its report without fetching again."""
    ref: InstanceRef
    prediction: Prediction
    data: bytes | None = None


def score_study(predictor: Predictor, client: PacsClient, plan: StudyPlan, threshold: str | float | None = None,
                batch_size: int = BATCH) -> Iterator[ScoredInstance]:
    """Every image instance of `plan` in study order: the frontal ones scored, the others
    *not assessed* (probability null, a "not assessed: ..." warning naming the header's
    reason), the ones that could not be fetched with `error` set."""
    t = predictor.threshold(threshold)
    site = predictor.site.name if predictor.site is not None else None
    reasons = {r.sop_uid: why for r, why in plan.other}
    ordered = plan.ordered
    for start in range(0, len(ordered), batch_size):
        chunk = ordered[start:start + batch_size]
        fetched: dict[str, bytes] = {}
        out: dict[str, ScoredInstance] = {}
        for ref in chunk:
            if ref.sop_uid in reasons:
                out[ref.sop_uid] = ScoredInstance(ref, Prediction(ref.name, None, None, t, predictor.name,
                                                                  [reasons[ref.sop_uid]], None, site=site))
                continue
            try:
                fetched[ref.sop_uid] = client.retrieve(ref)
            except PacsError as exc:
                out[ref.sop_uid] = ScoredInstance(ref, Prediction(ref.name, None, None, t, predictor.name, [],
                                                                  f"cannot retrieve instance: {exc}", site=site))
        refs = [r for r in chunk if r.sop_uid in fetched]
        preds = predictor.predict_sources(((fetched[r.sop_uid], r.name) for r in refs), t, batch_size=batch_size)
        for ref, pred in zip(refs, preds):
            out[ref.sop_uid] = ScoredInstance(ref, pred, fetched[ref.sop_uid])
        del fetched
        for ref in chunk:
            yield out.pop(ref.sop_uid)
