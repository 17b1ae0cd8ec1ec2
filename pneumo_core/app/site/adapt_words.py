"""What the app says after a label-free adaptation, as plain functions of the numbers (each
sentence beside the number it stands for, testable without a page): how many calls changed,
where the call sits now, what the validation study expects for patients, the fitted groups'
guess, the drift alarm on the adapted model and what to do next, and the profile in plain
lines. The method's workings are the model card's, not the page's."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...adaptation.changes import CallChanges, threshold_only
from ..runtime.formatting import site_name

if TYPE_CHECKING:
    from ...adaptation.expected import ValidationExpectation
    from ...calibration.site import SiteProfile

__all__ = ["NEXT_STEP", "changes_sentence", "threshold_sentence", "expectation_sentence", "fitted_sentence",
           "drift_sentence", "summary_lines"]

NEXT_STEP = ("Next: calibrate with a labelled sample of this site (Calibrate for your site) when you can: that "
             "measures sensitivity and specificity here, which no label-free adaptation can.")


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def changes_sentence(changes: CallChanges) -> str:
    """How many calls changed, at which operating point (where it sits: `threshold_sentence`)."""
    if not changes.compared:
        return "None of the films shown was among those adapted on: there is nothing to compare."
    if not changes.changed:
        return (f"No call changed at the {changes.preset} operating point: all {changes.compared} films keep the call "
                "they had before adapting.")
    return (f"{len(changes.changed)} of {changes.compared} calls changed at the {changes.preset} operating point: "
            f"{changes.to_pneumonia} now PNEUMONIA, {changes.to_normal} now NORMAL.")


def threshold_sentence(profile: SiteProfile, source_thresholds: dict[str, float]) -> str:
    """Where the call now sits, on the model's own probability and on the site's."""
    a = profile.adaptation or {}
    preset = profile.default_threshold
    here = f"On this site's probability that reads P(pneumonia) ≥ {profile.thresholds[preset]:.3f}."
    if not threshold_only(profile):
        return (f"The network was adapted to these films; the call keeps the model's own {preset} rule on the "
                f"adapted network. {here}")
    source, fitted = a.get("source_threshold_logit"), a.get("threshold_logit")
    if source is None or fitted is None:
        return f"The call keeps the model's own {preset} threshold. {here}"
    before = _sigmoid(source)
    if a.get("fallback"):
        return (f"The threshold was kept at the model's own ({before:.3f} on the model's own probability): "
                f"{a['fallback']}. {here}")
    return (f"New threshold: a film is called PNEUMONIA when the model's own probability reaches {_sigmoid(fitted):.3f} "
            f"(it was {before:.3f}), the point where this batch's own two groups of films separate. {here}")


def expectation_sentence(profile: SiteProfile, exp: ValidationExpectation | None) -> str:
    """What the validation study expects for patients, named as such."""
    a = profile.adaptation or {}
    method = a.get("method", "?")
    if exp is None:
        return (f"No validation study of this method ({method}) ships with the model: what it means for patients is "
                "not known.")
    where = (f"on validation films, clean and under simulated site shifts ({exp.shifts} conditions), at prevalence "
             f"{', '.join(f'{p:.0%}' for p in exp.prevalences)} ({exp.draws} draws of 100 films each; the "
             "validation study, not your site)")
    own = (f"; the model's own threshold on the same draws: sensitivity {exp.unadapted_sensitivity:.2f}, "
           f"specificity {exp.unadapted_specificity:.2f}" if exp.unadapted_sensitivity is not None else "")
    if a.get("fallback") and exp.unadapted_sensitivity is not None:
        return (f"The calls are the model's own here. What to expect for patients, {where}: the model's own threshold "
                f"kept sensitivity {exp.unadapted_sensitivity:.2f} and specificity {exp.unadapted_specificity:.2f} "
                f"(the mean over those conditions and draws; lowest over the conditions: sensitivity "
                f"{exp.unadapted_worst_sensitivity:.2f}, specificity {exp.unadapted_worst_specificity:.2f}).")
    return (f"What to expect for patients, {where}: this method kept sensitivity {exp.sensitivity:.2f} and "
            f"specificity {exp.specificity:.2f} (the mean over those conditions and draws; lowest over the conditions: "
            f"sensitivity {exp.worst_sensitivity:.2f}, specificity {exp.worst_specificity:.2f}){own}.")


def fitted_sentence(profile: SiteProfile) -> str | None:
    """The fitted groups' own guess, said to be one (None where the fit fell back or has none)."""
    a = profile.adaptation or {}
    sens, spec = a.get("fitted_sensitivity"), a.get("fitted_specificity")
    if a.get("fallback") or sens is None or spec is None:
        return None
    return (f"The two groups fitted to these films put sensitivity near {sens:.2f} and specificity near {spec:.2f} "
            "at the new threshold: a guess from unlabelled films, not a measurement.")


def drift_sentence(profile: SiteProfile, shifted_before: bool | None, shifted_after: bool | None,
                   where: str = "above") -> str:
    """The drift alarm on the adapted model, and what to do next."""
    if shifted_after is None:
        return f"The drift alarm could not run on the adapted model (see {where}). " + NEXT_STEP
    if threshold_only(profile):
        state = "still fires" if shifted_after else "still does not fire"
        changed = ("the threshold was kept, so neither the films' features nor the calls changed"
                   if (profile.adaptation or {}).get("fallback") else
                   "moving the threshold does not change the features: what changed is where the call sits, not what "
                   "the model sees")
        return (f"The drift alarm ({where}) was run again on the adapted model: it {state}. The alarm compares the "
                f"films' features with the data the model was set on, and {changed}. " + NEXT_STEP)
    if shifted_after:
        return (f"The drift alarm ({where}) was run again on the adapted model: it still fires. The films still look "
                "unlike the data the model was set on: read its calls with care. " + NEXT_STEP)
    cleared = "it cleared" if shifted_before else "it does not fire"
    return (f"The drift alarm ({where}) was run again on the adapted model: {cleared}. The adapted model sees these "
            "films like the data it was set on; that is not a measured accuracy. " + NEXT_STEP)


def summary_lines(profile: SiteProfile) -> list[str]:
    """Plain-text lines on the profile (no markup: the site name is the user's). The method's
    workings are the model card's; the page says what was changed in plain words."""
    a = profile.adaptation or {}
    what = ("the threshold only: the network and its scores are as shipped" if threshold_only(profile)
            else "the model's normalisation, re-estimated on these films")
    return [f"{profile.describe()}.",
            f"What was adapted: {what} (method {a.get('method', '?')}, described in the model card).",
            f"Estimated pneumonia prevalence at {site_name(profile.name)}: {a.get('estimated_prevalence', 0):.1%} "
            f"(the model's source: {a.get('source_prevalence', 0):.1%}).",
            *(f"{k} threshold {v:.3f}: {profile.threshold_rules.get(k, '')}" for k, v in profile.thresholds.items()),
            *profile.warnings]
