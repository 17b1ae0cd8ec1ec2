"""A study's image instances scored through the product path, one `Prediction` per instance.

Frontal chest films are fetched a batch at a time and handed to `Predictor.predict_sources`
as bytes, so `io.ingest.load` applies every rule it applies to an upload (size, decompression
bombs, DICOM checks) and the input gate has the last word. At most `batch_size` files are held
at once, whatever the size of the study. An instance that cannot be fetched gets an error line
and the rest go on; once the server is unavailable (unreachable, failing, too slow, or the
study's time limit passed), the study's later instances get an error line without a request, so
a hostile server costs one answer's deadline per study, not one per instance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from ..inference.prediction import Prediction
from .client import InstanceRef, PacsClient, PacsError, PacsUnavailable
from .study import StudyPlan

if TYPE_CHECKING:  # the app's PACS page fetches through this module before torch has loaded
    from ..inference.predictor import Predictor

__all__ = ["ScoredInstance", "FetchedInstance", "fetch_instances", "score_study", "BATCH"]

BATCH = 8  # files held at once: 8 x ingest's 256 MB limit at worst, a few MB for usual films


@dataclass
class ScoredInstance:
    """One instance's prediction, with the file's bytes while they are at hand (None when
    it was not retrieved): what a caller needs to render its report without fetching again."""
    ref: InstanceRef
    prediction: Prediction
    data: bytes | None = None


@dataclass
class FetchedInstance:
    """One image instance of a plan, in study order: its bytes, or why there are none (the
    header rules it out: `not_assessed`; it could not be fetched: `error`)."""
    ref: InstanceRef
    data: bytes | None = None
    not_assessed: str | None = None
    error: str | None = None


def fetch_instances(client: PacsClient, plan: StudyPlan, batch_size: int = BATCH) -> Iterator[list[FetchedInstance]]:
    """The plan's image instances a batch at a time, in study order: the one policy for what is
    fetched (frontal chest films only; `io.header_policy`), shared by the command line and the
    app's PACS page. At most `batch_size` files are held at once."""
    reasons = {r.sop_uid: why for r, why in plan.other}
    ordered = plan.ordered
    gone: str | None = None  # why the server is no longer asked, once it is unavailable
    for start in range(0, len(ordered), batch_size):
        batch = []
        for ref in ordered[start:start + batch_size]:
            if ref.sop_uid in reasons:
                batch.append(FetchedInstance(ref, not_assessed=reasons[ref.sop_uid]))
            elif gone is not None:
                batch.append(FetchedInstance(ref, error=f"not retrieved: an earlier instance failed ({gone})"))
            else:
                try:
                    batch.append(FetchedInstance(ref, data=client.retrieve(ref)))
                except PacsError as exc:
                    gone = str(exc) if isinstance(exc, PacsUnavailable) else None
                    batch.append(FetchedInstance(ref, error=f"cannot retrieve instance: {exc}"))
        yield batch


def score_study(predictor: Predictor, client: PacsClient, plan: StudyPlan, threshold: str | float | None = None,
                batch_size: int = BATCH) -> Iterator[ScoredInstance]:
    """Every image instance of `plan` in study order: the frontal ones scored, the others
    *not assessed* (probability null, a "not assessed: ..." warning naming the header's
    reason), the ones that could not be fetched with `error` set."""
    t = predictor.threshold(threshold)
    site = predictor.site.name if predictor.site is not None else None
    for batch in fetch_instances(client, plan, batch_size):
        fetched = [f for f in batch if f.data is not None]
        preds = iter(predictor.predict_sources(((f.data, f.ref.name) for f in fetched), t, batch_size=batch_size))
        for f in batch:
            if f.data is not None:
                yield ScoredInstance(f.ref, next(preds), f.data)
            else:
                warnings = [f.not_assessed] if f.not_assessed else []
                yield ScoredInstance(f.ref, Prediction(f.ref.name, None, None, t, predictor.name, warnings, f.error,
                                                       site=site))
