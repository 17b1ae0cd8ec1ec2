"""Scores and heatmaps for uploads and test images, cached with `st.cache_data` on the
file's content hash and the settings that change them (never the threshold, the opacity or
a labelled calibration): a slider move re-derives the call from the cached probability, a
calibration change moves the cached score to the profile through the profile's own predictor
(`case_on_site`: `Predictor.on_site`, the command line's rule, and out of fold for a test film
under a profile fitted on the test split, as the command line prints it); an adapted
profile's network scores apart, keyed on its moments (`SiteProfile.adaptation_digest`), and
the opacity re-blends the cached map. Also the batch's drift verdict (cached on the
batch's digests and the calibration), and the case report, rendered only when its
download button is clicked.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import streamlit as st

from ...evaluation.out_of_fold import honest_prediction, honest_probabilities
from ...inference.orientation import undo
from ...io.budget import ServerBusy, heavy_work
from ...io.ingest import IngestError
from ...io.sandbox import load_untrusted
from ...io.overlay import overlay_legend
from ...reporting.case import HeatmapSummary
from ...reporting.region_check import RegionCheck
from ...reporting.case import case_report as build_report
from ..access import identity
from ..runtime.formatting import calibration_label, site_name
from ..runtime.paths import DATA_DIR, resolve_model_dir, test_image_bytes
from .cases import FILM_MAX_SIDE, CaseResult, case_id, content_digest, distinct_warnings, to_display
from .patient import identity_chosen
from .report_form import ReportFields, file_names_chosen
from ..runtime.resources import (get_predictor, import_predictor, import_saliency, method_label, model_meta, profile_key,
                        weights_stamp)

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile
    from ...evaluation.operating_point import OperatingPoint
    from ...io.case_report import ReportCase
    from ..settings.state import Settings

__all__ = ["score_file", "score_split_film", "case_on_site", "Heatmap", "heatmap_for", "region_check", "split_warnings", "DriftVerdict", "batch_drift",
    "report_case_of", "reader_choices", "case_report"]


@st.cache_data(show_spinner=False, max_entries=128)  # each entry holds the viewer's copy of the film
def _score(model: str, weights: int, adaptation: str, digest: str, name: str, _data: bytes,
           _site: SiteProfile | None) -> CaseResult:
    with heavy_work():  # ServerBusy leaves the cache untouched: the next rerun tries again
        try:
            rad = load_untrusted(_data, name=name)  # a worker process with memory and time limits
        except IngestError as exc:
            return CaseResult.unscored(name, digest, model, error=str(exc))
        pred = get_predictor(model, _site if adaptation else None).predict_radiographs([rad], [name])[0]
    film = to_display(rad.pixels, FILM_MAX_SIDE)
    if pred.correction is not None:  # shown as scored, so the heatmap lies on the right anatomy
        film = undo(film, pred.correction)
    return CaseResult.scored(pred, digest, source_format=rad.source_format, metadata=dict(rad.metadata),
                             identity=rad.identity, film=film,
                             display=to_display(film / np.float32(255)),
                             size=(int(rad.pixels.shape[1]), int(rad.pixels.shape[0])))


def score_file(model: str, data: bytes, name: str, site: SiteProfile | None = None, moved: bool = True) -> CaseResult:
    """Cached on (model and its weights, content hash, name): reruns for a slider or a new
    calibration never re-score. The probability is the site's when a profile is given. A bad
    file comes back with `error` set, like `Predictor.predict_bytes`, and so does a file the
    busy server could not take now (that one is not cached). A test film under a profile
    fitted on the test split gets its out-of-fold probability (`evaluation.out_of_fold`).
    Audited once per film and session, by the bytes' sha256. `moved=False` keeps the score of
    the profile's network (an adapted profile's own, else the source's) unmoved, for a page
    that keeps it and moves it to the sidebar's profile on each rerun (`case_on_site`)."""
    digest = content_digest(data)
    result = _scored(model, digest, name, data, site, moved)
    uid = result.metadata.get("SOPInstanceUID")
    identity.audit_once("score", digest, sha256=digest, model=model, outcome=result.status,
                        **({"instance_uid": uid} if uid else {}))
    return result


def _scored(model: str, digest: str, name: str, data: bytes, site: SiteProfile | None, moved: bool = True
            ) -> CaseResult:
    try:
        adaptation = site.adaptation_digest if site is not None else ""
        result = _score(model, weights_stamp(model), adaptation, digest, name, data, site)
    except ServerBusy as exc:
        return CaseResult.unscored(name, digest, model, error=str(exc))
    return case_on_site(result, site) if moved else result


def case_on_site(result: CaseResult, site: SiteProfile | None) -> CaseResult:
    """The case as the predictor for `site` (`Predictor.from_pretrained(model, site=...)`)
    reports it: its cached score moved to the profile by `Predictor.on_site` (no second pass),
    then `out_of_fold.honest_prediction`, so a test film under a profile fitted on the test
    split is out of fold, with the warning that says so, as `predict --site` prints it. A source score under an adapted
    profile comes back unscored (that network must score the film). A shallow copy: the
    display image is shared."""
    if site is None:
        return result
    predictor = get_predictor(result.model, site)
    try:
        pred = predictor.on_site(result.prediction)
    except ValueError as exc:
        return CaseResult.unscored(result.name, result.digest, result.model, error=str(exc))
    pred = honest_prediction(replace(pred, sha256=result.digest), predictor, DATA_DIR)  # says so in a warning
    return replace(result, prediction=pred, probability=pred.probability, calibration=calibration_label(site.name))


@st.cache_data(show_spinner=False, max_entries=1024)
def _test_file(key: str, stamp: int) -> tuple[bytes, str]:
    data = test_image_bytes(key)
    return data, content_digest(data)


def score_split_film(model: str, key: str, site: SiteProfile | None = None) -> CaseResult:
    """A film of the data set's splits (key as in eval_test.json: "test/NORMAL/x.jpeg") scored
    like an upload, cached the same way; its bytes and hash are cached too, so a gallery's
    rerun reads and hashes no file."""
    data, digest = _test_file(key, (DATA_DIR / key).stat().st_mtime_ns)
    return _scored(model, digest, Path(key).name, data, site)


@dataclass
class Heatmap:
    heatmap: np.ndarray  # float32 SxS in [0, 1], relative
    target_class: str
    method: str
    class_specific: bool
    note: str
    # the check (`reporting.region_check`): source-calibrated logits (as `Prediction.logit`) before and
    # after the map's top `fraction` is filled in; `region_check` turns them into P as the case's own P is
    logit_before: float | None = None
    logit_after: float | None = None
    fraction: float = 0.2
    model: str = ""  # what scored the film, and the film (its bytes' sha256): the check's P is the case's rule
    digest: str = ""

    @property
    def caption(self) -> str:
        """What the map shows, in one line: the class it explains (in the colours drawn, `io.overlay`),
        or that it explains none."""
        label = method_label(self.method)
        if not self.class_specific:
            return (f"{label}: the strongest pattern in the model's features, whichever class is called "
                    f"({overlay_legend(self.target_class, class_specific=False)})")
        return f"{label}: explains {self.target_class} ({overlay_legend(self.target_class)})"


@st.cache_data(show_spinner=False, max_entries=256)
def _heatmap(model: str, weights: int, adaptation: str, digest: str, method: str, target: str,
             _model_input: np.ndarray, _site: SiteProfile | None) -> Heatmap:
    from ...evaluation.saliency_checks import FRACTION, filled_logit
    saliency = import_saliency()
    predictor = get_predictor(model, _site if adaptation else None)
    with heavy_work():  # counted with the decodes: a CAM holds memory and a core too
        exp = saliency.explain(predictor, _model_input, method=method, target=target)
        after = filled_logit(predictor, exp.model_input, exp.heatmap, FRACTION)  # one more pass, cached with the map
    t = predictor.bundle.temperature  # logits kept source-calibrated, like `Prediction.logit`
    return Heatmap(np.asarray(exp.heatmap, np.float32), str(exp.target_class), str(exp.method),
                   bool(exp.class_specific), str(exp.note), float(exp.logit) / t, after / t, FRACTION, model, digest)


def heatmap_for(model: str, result: CaseResult, method: str, target: str, site: SiteProfile | None = None) -> Heatmap:
    """The map of what the model saw when it scored `result` (its cached model input: the
    file is never decoded again), with the check's scores. Cached on (model, an adapted
    profile's moments, content hash, method, class explained); opacity is applied by `blend`, so the opacity slider never
    re-runs the CAM. Raises ValueError for a result without a model input (not read), and
    `io.budget.ServerBusy` when the server's heavy-work slots stay taken."""
    if result.model_input is None:
        raise ValueError(f"{result.name} has no model input to explain: it was not read")
    adaptation = site.adaptation_digest if site is not None else ""  # an adapted profile's network is its own
    return _heatmap(model, weights_stamp(model), adaptation, result.digest, method, target, result.model_input, site)


def region_check(heatmap: Heatmap, site: SiteProfile | None, threshold: float) -> RegionCheck | None:
    """The heatmap's check for the class called at `threshold` (`reporting.region_check`: its
    outcome, its words, whether the map is dimmed), in the probability the page shows: both
    logits through `out_of_fold.honest_probabilities` with the profile's predictor, the one
    function the case's own P comes from (out of fold for a test film under a profile fitted
    on the test split). None for a map without a check."""
    if heatmap.logit_before is None or heatmap.logit_after is None:
        return None
    probs, _ = honest_probabilities([heatmap.logit_before, heatmap.logit_after], heatmap.digest,
                                    get_predictor(heatmap.model, site), DATA_DIR)
    return RegionCheck(heatmap.target_class, heatmap.logit_before, heatmap.logit_after, float(probs[0]), float(probs[1]),
                       threshold, heatmap.fraction)


def split_warnings(result: CaseResult) -> tuple[str | None, list[str]]:
    """(the out-of-distribution warning if raised, the other warnings): the app shows the
    first one prominently."""
    ood_warning = import_predictor().OOD_WARNING
    return (ood_warning if result.out_of_distribution else None), [w for w in distinct_warnings(result)
                                                                    if w != ood_warning]


@dataclass(frozen=True)
class DriftVerdict:
    """The drift alarm's words for one batch. `shifted` is None when the test could not run
    (then `text` says why)."""
    text: str
    shifted: bool | None
    n: int
    p_value: float | None = None

    def show(self, prefix: str = "") -> None:
        """The verdict as a page shows it: a warning when the batch looks shifted."""
        {None: st.info, True: st.warning, False: st.success}[self.shifted](prefix + self.text)


@st.cache_data(show_spinner="Checking the batch for drift…", max_entries=16)
def _drift(model: str, weights: int, digests: tuple[str, ...], calibration: str, _features: np.ndarray,
           _logits: np.ndarray, _site: SiteProfile | None) -> DriftVerdict:
    from ...monitoring import drift, site_reference
    n = len(digests)
    try:
        ref = site_reference.reference_for(resolve_model_dir(model), _site)
        if ref is None:
            return DriftVerdict("No drift reference ships with this model: the batch was not checked for drift.",
                                None, n)
        result = drift.drift_test(ref, _features, _logits)
    except ValueError as exc:  # DriftReferenceError: a reference for other weights, a sample that does not fit
        return DriftVerdict(f"The batch was not checked for drift: {exc}", None, n)
    against = site_name(getattr(ref, "source", "") or "the reference")
    if _site is not None and _site.adaptation and _site.drift_reference is None:
        against += (f"; the films as the model adapted to {site_name(_site.name)} sees them"
                    if _site.adaptation.get("layers") else
                    f"; profile {site_name(_site.name)} moved only the threshold, so the films' features are the "
                    "model's own")
    elif _site is not None and getattr(_site, "drift_reference", None) is None:
        against += f"; profile {site_name(_site.name)} carries no sample of its site"
    text = drift.verdict_text(result, against)
    return DriftVerdict(text[:1].upper() + text[1:], bool(result["shifted"]), int(result["n"]),
                        float(result["p_value"]))


def batch_drift(model: str, results: list[CaseResult], site: SiteProfile | None) -> DriftVerdict | None:
    """Whether a batch's scored films look like the data its operating point was set on
    (the site's calibration sample under a profile that carries one, else validation data).
    None below the alarm's minimum batch (`drift.MIN_BATCH` scored films). Cached on the
    batch's digests and the calibration."""
    from ...monitoring.drift import MIN_BATCH
    scored = [r for r in results if r.ok and r.features is not None]
    if len(scored) < MIN_BATCH:
        return None
    features = np.stack([r.features for r in scored])
    logits = None if any(r.logit is None for r in scored) else np.array([r.logit for r in scored], np.float64)
    return _drift(model, weights_stamp(model), tuple(r.digest for r in scored), profile_key(site), features, logits,
                  site)


def report_case_of(result: CaseResult, settings: Settings, heatmap: Heatmap, fields: ReportFields | None = None,
                   expected: OperatingPoint | None = None, show_file_name: bool = False,
                   identity_rows: tuple = ()) -> ReportCase:
    """The case report of `result` (`reporting.case`): the one the PDF is drawn from and the
    PACS page's structured results say, so both say the same. `show_file_name` and
    `identity_rows` are the reader's choices, read by the caller while its script runs."""
    from .shortcut import shortcut_check
    meta = model_meta(settings.model)
    check = region_check(heatmap, settings.site, settings.threshold)
    shortcut = shortcut_check(result, heatmap, settings)  # as the case shows it
    heat = HeatmapSummary(heatmap.heatmap, method_label(heatmap.method),
                          heatmap.target_class if heatmap.class_specific else "", heatmap.note,
                          check.text if check else "", dimmed=bool(check and check.map_fails),
                          shortcut=shortcut.text if shortcut else "")
    fields = fields or ReportFields()
    return build_report(model=settings.model, model_description=meta.description, temperature=meta.temperature,
                        site=settings.site, probability=float(result.probability), threshold=settings.threshold,
                        operating_point=settings.operating_point, display=result.display, heatmap=heat,
                        opacity=settings.opacity, expected=expected, fields=fields, warnings=distinct_warnings(result),
                        metadata=result.metadata, case_id=case_id(result, fields.accession_number),
                        file_name=result.name, show_file_name=show_file_name, identity=identity_rows)


def case_report(result: CaseResult, settings: Settings, heatmap: Heatmap,
                fields: ReportFields | None = None, expected: OperatingPoint | None = None,
                fmt: str = "pdf") -> Callable[[], bytes]:
    """A callable rendering the case report (`report_case_of`, the one the command line stores
    in a PACS too), for `st.download_button(data=...)`: drawn only when clicked. `fields` are
    what the reader typed (`report_form`); `expected` the operating point's expected sensitivity and
    specificity (`operating_point.current`), None when no honest estimate exists here."""
    choices = reader_choices(result)  # read now: the callable runs outside the script's run

    def render() -> bytes:
        from ...io.case_report import render_report
        return render_report(report_case_of(result, settings, heatmap, fields, expected, *choices), fmt)
    return render


def reader_choices(result: CaseResult) -> tuple[bool, tuple]:
    """(show the file name, the identity rows shown): the reader's choices for `result`'s
    report, read while the script runs (they live in the session)."""
    return file_names_chosen(), tuple(result.identity.rows()) if result.identity and identity_chosen() else ()
