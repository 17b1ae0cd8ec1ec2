"""The "Calibrate for your site" page's logic: labelled uploads (`site_uploads`: one uploader
per class, or a zip with NORMAL/ and PNEUMONIA/ folders) -> the model's logits (scored once per sample, with
a progress bar) -> a site profile (`pneumo_core.calibration.site`) and what the page shows
of it. Everything stays in memory: nothing is written to disk, and the scores live in this
session's state only, never in a cache other sessions can reach.

Scoring the sample needs the predictor (torch), so the page waits for the app's warm-up
thread's import (`resources.import_predictor`) only when a sample arrives: it paints before
torch is loaded.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, MutableMapping

import numpy as np
import streamlit as st

from ..access import identity
from ..runtime import resources
from ..reading.cases import content_digest
from ..runtime.formatting import format_ci, format_number, safe_filename, site_name
from ..runtime.resources import get_predictor, weights_stamp
from .site_uploads import LabelledUpload, UploadRefused, gather

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile

__all__ = ["SiteResult", "CONSECUTIVE", "BY_CLASS", "SAMPLING", "check_counts", "stated_prevalence", "calibrate",
           "estimates_rows", "summary_lines", "prevalence_line", "skipped_rows", "site_study", "profile_json",
           "profile_filename", "use_in_session", "in_use"]

_SCORED, _PROFILE, _IN_USE = "site_scored", "site_profile_built", "site_profile_in_use"
CONSECUTIVE, BY_CLASS = "consecutive", "by class"
# the page's question: how the films were chosen decides whose prevalence the probability scale is fitted to
SAMPLING = {CONSECUTIVE: "Consecutive cases: every film of a period, as they came (their prevalence is the site's)",
            BY_CLASS: "Chosen by class: so many NORMAL, so many PNEUMONIA (then give the site's prevalence)"}
ASK_SAMPLING = "Say how the films were chosen: the probability scale is fitted to the site's prevalence."
ASK_PREVALENCE = ("Give the site's pneumonia prevalence: films chosen by class have the prevalence the chooser "
                  "set, not the site's.")
_ESTIMATES = {"accuracy": "Accuracy", "sensitivity": "Sensitivity (recall)", "specificity": "Specificity",
              "ece": "Expected calibration error (10 bins)"}


def _site():
    from ...calibration import site
    return site


def check_counts(files: list[LabelledUpload]) -> None:
    """Refuses a sample below the minimum per class before any film is scored."""
    minimum = _site().MIN_PER_CLASS
    n = [sum(f.label == c for f in files) for c in (0, 1)]
    if min(n) < minimum:
        raise UploadRefused(f"A site sample needs at least {minimum} films of each class; got {n[0]} NORMAL and "
                            f"{n[1]} PNEUMONIA. Add films, or a zip with NORMAL/ and PNEUMONIA/ folders.")


def stated_prevalence(sampling: str | None, percent: float | None) -> float | None:
    """The prevalence the fit is given: none for consecutive cases (the sample's own is the
    site's), the stated one (a percentage on the page) for films chosen by class.

    Raises:
        UploadRefused: the question is unanswered, or a sample chosen by class has no prevalence."""
    if sampling == CONSECUTIVE:
        return None
    if sampling != BY_CLASS:
        raise UploadRefused(ASK_SAMPLING)
    if percent is None:
        raise UploadRefused(ASK_PREVALENCE)
    return float(percent) / 100.0


def _sample_digest(model: str, files: list[LabelledUpload]) -> str:
    h = hashlib.sha256(f"{model}\n{weights_stamp(model)}\n".encode())
    for f in files:
        h.update(f"{f.label}\t{f.key}\t{content_digest(f.data)}\n".encode())
    return h.hexdigest()


@dataclass
class SiteSample:
    """A scored sample without its bytes: what the profile and the figures need."""
    logits: np.ndarray
    labels: np.ndarray
    patients: list[str]
    keys: list[str]
    features: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _score(model: str, files: list[LabelledUpload], digest: str, state: MutableMapping) -> SiteSample:
    """Scores the sample once: a rerun (a button, another cost ratio) finds it in this
    session's state under the sample's content digest."""
    cached = state.get(_SCORED)
    if cached is not None and cached[0] == digest:
        return cached[1]
    from ...calibration.sample import LabelledFile, ScoredSample
    from ...inference.batch import score_batch
    bar = st.progress(0.0, text=f"Scoring {len(files)} films…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scored {done} of {total} films")

    labelled = [LabelledFile(f.data, f.label, f.key) for f in files]
    scored = ScoredSample.from_batch(labelled, score_batch(get_predictor(model), [(f.source, f.key) for f in labelled],
                                                           batch_size=8, progress=progress))  # a bar that moves
    bar.empty()
    sample = SiteSample(scored.logits, scored.labels, scored.patients, scored.keys, scored.features, scored.skipped)
    state[_SCORED] = (digest, sample)
    return sample


@dataclass
class SiteResult:
    """What the page shows: notes on the uploads, the skipped files, then either a refusal
    (`error`) or the profile with the sample's before/after probabilities."""
    n_files: int = 0
    notes: list[str] = field(default_factory=list)
    question: str | None = None  # what the page must still ask before it can fit (how the films were chosen)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    profile: SiteProfile | None = None
    labels: np.ndarray | None = None
    before: np.ndarray | None = None  # the model's own (source-calibrated) probability
    after: np.ndarray | None = None   # out-of-fold site-calibrated probability: each film scored by a fit without it


def calibrate(model: str, normal, pneumonia, zipped=None, *, name: str = "", sampling: str | None = None,
              prevalence_percent: float | None = None, cost_ratio: float = 4.0, n_boot: int = 1000,
              state: MutableMapping | None = None) -> SiteResult:
    """Uploads to a site profile; every refusal comes back as `error`, never raised, and an
    unanswered question on how the films were chosen as `question` (the films are scored
    meanwhile, so the answer fits at once)."""
    state = st.session_state if state is None else state
    result = SiteResult()
    try:
        files, result.notes = gather(normal, pneumonia, zipped)
    except UploadRefused as exc:
        result.error = str(exc)
        return result
    result.n_files = len(files)
    if not files:
        return result
    site = _site()
    try:
        check_counts(files)
        digest = _sample_digest(model, files)
        sample = _score(model, files, digest, state)
        result.skipped, result.labels = sample.skipped, sample.labels
        try:
            prevalence = stated_prevalence(sampling, prevalence_percent)
        except UploadRefused as exc:
            result.question = str(exc)
            return result
        key = (digest, site_name(name), prevalence, float(cost_ratio), n_boot)
        built = state.get(_PROFILE)
        if built is None or built[0] != key:
            predictor = get_predictor(model)
            profile = site.build_site_profile(
                sample.logits, sample.labels, sample.patients, sample.keys, name=site_name(name), model=model,
                model_sha256=predictor.bundle.meta.model_sha256, prevalence=prevalence, cost_ratio=cost_ratio,
                n_boot=n_boot, features=sample.features, model_dir=predictor.bundle.directory)
            after, _ = site.out_of_fold_probabilities(sample.logits, sample.labels, sample.patients,
                                                      prevalence=prevalence)
            built = (key, profile, after)
            state[_PROFILE] = built
            identity.audit("profile_made", model=model, site_sha256=profile.files_sha256, count=len(files))
    except UploadRefused as exc:
        result.error = str(exc)
        return result
    except site.SiteProfileError as exc:  # too few readable films, one patient per class, ...
        result.error = f"No profile: {exc}."
        return result
    from ...calibration.recalibration import sigmoid
    result.profile, result.after, result.before = built[1], built[2], sigmoid(sample.logits)
    return result


def estimates_rows(profile: SiteProfile) -> list[dict[str, str]]:
    """The cross-fitted estimates with their 95% intervals, one row each."""
    e = profile.estimates
    return [{"estimate": label, "value": format_number(e[k]["value"]), "95% interval": format_ci(e[k])}
            for k, label in _ESTIMATES.items() if k in e]


def summary_lines(profile: SiteProfile) -> list[str]:
    """Plain-text lines (no markup: the site name is the user's) on what the profile holds."""
    slope = (f"slope {profile.slope:.3f} (fitted)" if profile.slope_fitted else
             "slope fixed at 1 (too few films of a class to fit it)")
    lines = [f"{profile.describe()}, {profile.patients} patients.",
             f"Recalibration of the model's logit: intercept {profile.intercept:.3f}, {slope}.",
             prevalence_line(profile)]
    lines += [f"{k} threshold {v:.3f}: {profile.threshold_rules.get(k, '')}" for k, v in profile.thresholds.items()]
    return lines


def prevalence_line(profile: SiteProfile) -> str:
    """Whose prevalence the probability scale is fitted to, in the words of the page's question."""
    sample = (f"{profile.counts['PNEUMONIA']} PNEUMONIA of {sum(profile.counts.values())} films, "
              f"{profile.sample_prevalence:.1%}")
    if profile.prevalence_source == "stated":
        return (f"Site prevalence {profile.site_prevalence:.1%}, as stated: the films were chosen by class "
                f"({sample}), so the probability scale was moved from their prevalence to the site's.")
    line = f"Site prevalence {profile.site_prevalence:.1%}: the sample's own, as consecutive cases ({sample})."
    if profile.counts["PNEUMONIA"] == profile.counts["NORMAL"]:
        line += (" As many PNEUMONIA as NORMAL films is rare among consecutive cases: if they were chosen by class, "
                 "say so above and give the site's prevalence.")
    return line


def skipped_rows(skipped: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"file": key, "why it was skipped": reason} for key, reason in skipped]


def site_study(model: str) -> dict | None:
    """weights/<model>/site_study_test.json: the protocol's estimates by sample size on the
    official test split; None when the model has none."""
    return resources.site_study(model)


def profile_json(profile: SiteProfile) -> str:
    """The profile as `save_profile` writes it, for the download button."""
    from ...calibration.site import profile_json as to_json
    return to_json(profile)


def profile_filename(profile: SiteProfile) -> str:
    return safe_filename(profile.name, ".json")


def use_in_session(profile: SiteProfile) -> None:
    """The "use this profile" button's callback (a callback runs before the script, so the
    sidebar may still change its own widgets' state)."""
    from ..settings.sidebar import use_profile
    use_profile(profile)
    st.session_state[_IN_USE] = profile.files_sha256 + profile.created


def in_use(profile: SiteProfile) -> bool:
    """Whether this profile was handed to the sidebar in this session."""
    return st.session_state.get(_IN_USE) == profile.files_sha256 + profile.created
