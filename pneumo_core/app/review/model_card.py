"""What the model card and the model comparison show, read straight from model.json and
`eval_test.json` at the validation-chosen presets: table rows and captions, no Streamlit
(except `saliency_caveats`, which by default asks `resources` for the shipped methods).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from .eval_views import METRIC_NAMES, EvalView
from .training_card import calibration_choice_details, calibration_choice_in_words, training_rows
from ..runtime.formatting import calibration_label, escape_markdown, format_ci, format_number, preset_groups, preset_label

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile
    from ...models.metadata import ModelMetadata

__all__ = ["train_prevalence", "prevalence_note", "calibration_caption", "site_calibration_caption",
    "site_calibration_notes", "site_study_rows", "adapt_study_rows", "site_profile_caption",
    "test_split_caption", "site_profile_rows", "comparison_rows", "card_metric_rows", "CARD_METRICS",
    "calibration_in_words", "calibration_choice_in_words", "calibration_choice_details",
    "validation_rows", "threshold_notes", "training_rows", "saliency_caveats"]


def train_prevalence(meta: ModelMetadata) -> float:
    c = meta.train_counts
    total = sum(c.values())
    return c["PNEUMONIA"] / total if total else float("nan")


def prevalence_note(evaluation: dict, meta: ModelMetadata) -> str:
    """Markdown (numbers only, from the files) stating the test set and its prevalence."""
    c = evaluation["counts"]
    note = (f"**{evaluation['n']} test images**: {c['NORMAL']} NORMAL, {c['PNEUMONIA']} PNEUMONIA, so the test "
            f"prevalence of pneumonia is **{evaluation['prevalence']:.1%}**")
    tp = train_prevalence(meta)
    if np.isfinite(tp):
        note += f" (training data: {tp:.1%})"
    return note + ". PPV and NPV depend on prevalence; in your population they will differ."


def calibration_caption(evaluation: dict, meta: ModelMetadata) -> str:
    """How calibration on validation (where the temperature was fitted) carried over to test."""
    test_ece = next(iter(evaluation["metrics"].values()))["ece"]["value"]
    val_ece = meta.validation["ece"][meta.default_threshold]
    return (f"The temperature ({meta.temperature:.3f}) was fitted on validation data "
            f"(train-like: {train_prevalence(meta):.0%} pneumonia). ECE {float(val_ece):.3f} on validation, "
            f"{test_ece:.3f} on this test split.")


def calibration_in_words(evaluation: dict) -> str:
    """What the reliability diagram says, in plain words, from the file's ECE."""
    ece = next(iter(evaluation["metrics"].values()))["ece"]["value"]
    return (f"**Are the probabilities honest?** On these films a stated probability of pneumonia is off from how "
            f"often pneumonia was present by about **{100 * ece:.0f} percentage points** on average. Points below "
            "the diagonal: the model over-states pneumonia; above it: under-states.")


def site_calibration_caption(view: EvalView, profile: SiteProfile) -> str:
    """How a site profile's calibration reads on the test split, beside its own cross-fitted
    estimate on the sample it was fitted on."""
    test_ece = next(iter(view.evaluation["metrics"].values()))["ece"]["value"]
    how = "out-of-fold" if view.out_of_fold else "the source probabilities recalibrated by the profile"
    text = f"Probabilities {view.calibration}: ECE {test_ece:.3f} on this test split ({how})."
    est = (profile.estimates or {}).get("ece")
    if isinstance(est, dict) and "value" in est:
        text += (f" Cross-fitted on the profile's own {sum(profile.counts.values())} films: ECE "
                 f"{format_number(est['value'])} (95% CI {format_ci(est)}).")
    return text


def test_split_caption(view: EvalView, model: str, n_boot: int) -> str:
    """What the test numbers are and what was (not) chosen on the test split, per calibration."""
    if not view.is_site:
        return (f"Model {model}, P(pneumonia) {view.calibration}. The test split was not used to choose the model, "
                f"its thresholds or its temperature. 95% CIs: percentile bootstrap over whole patients, {n_boot} resamples.")
    return (f"Model {model}, P(pneumonia) {view.calibration}; the thresholds are the site profile's (set by a stated "
            f"cost, not tuned on any sample). 95% CIs: percentile bootstrap, {view.evaluation.get('bootstrap', '')}.")


def site_profile_caption(profile: SiteProfile) -> str:
    """What the profile in use changes, in one sentence."""
    if profile.adaptation:
        return ("An adapted profile re-estimates the network's normalisation on that site's unlabelled films and moves "
                "the probability to its estimated prevalence; the weights stay the same, the scores are the adapted "
                "network's, and the test-split numbers on this card are the model's as shipped.")
    return ("A site profile recalibrates the temperature-scaled logit on a labelled sample of that site's films and "
            "brings its own thresholds; the model, its ranking and everything else on this card stay the same.")


def site_profile_rows(profile: SiteProfile) -> list[dict]:
    """A site profile as field/value rows for the model card: what it was fitted on, the
    recalibration, its thresholds and its cross-fitted estimates."""
    rows = [
        ("calibration", calibration_label(profile.name)),
        ("fitted on", profile.describe() + (f", of {profile.patients} patients" if profile.labelled else "")),
        *([("adapted", profile.adaptation.get("description", ""))] if profile.adaptation else []),
        ("site prevalence", f"{profile.site_prevalence:.1%} ({profile.prevalence_source})"),
        ("recalibration", f"P = sigmoid({profile.intercept:.3f} + {profile.slope:.3f} x logit)"
                          + ("" if profile.slope_fitted or not profile.labelled
                             else ", slope fixed at 1 (sample too small to fit it)")),
        ("rule", profile.recalibration_rule),
    ]
    rows += [(f"{k} threshold", f"{float(t):.3f}: {profile.threshold_rules.get(k, '')}")
             for k, t in profile.thresholds.items()]
    est = profile.estimates or {}
    for k in ("accuracy", "sensitivity", "specificity", "ece"):
        if isinstance(est.get(k), dict):
            rows.append((f"cross-fitted {k}", f"{format_number(est[k]['value'])} (95% CI {format_ci(est[k])})"))
    if est.get("method"):
        rows.append(("estimated by", est["method"]))
    rows += [("warning", w) for w in profile.warnings]
    rows.append(("fitted for weights", f"{profile.model} {profile.model_sha256[:12]}..., {profile.created}"))
    return [{"field": k, "value": str(v)} for k, v in rows]


def comparison_rows(reports: dict[str, dict], metas: dict[str, ModelMetadata]) -> list[dict]:
    """One row per model and distinct preset (coinciding presets are one row naming both),
    at its own validation-chosen thresholds, from the files. PPV and NPV are left to each
    model's own table: they depend on prevalence, and without them the rows fit the page."""
    rows = []
    for name, evaluation in reports.items():
        values = {k: float(v) for k, v in evaluation["thresholds"].items()}
        meta = metas.get(name)
        for preset, names in preset_groups(values, meta.default_threshold if meta is not None else None).items():
            m = evaluation["metrics"][preset]
            ci = lambda k: f"{m[k]['value']:.3f} ({m[k]['ci_low']:.3f}–{m[k]['ci_high']:.3f})"  # noqa: E731
            rows.append({
                "model": name, "operating point": " = ".join(names), "threshold": f"{values[preset]:.3f}",
                "sensitivity": ci("recall"), "specificity": ci("specificity"), "ROC AUC": ci("roc_auc"),
                "ECE": f"{m['ece']['value']:.3f}",
            })
    return rows


CARD_METRICS = ("recall", "specificity", "precision", "npv", "accuracy", "roc_auc")


def card_metric_rows(evaluation: dict, default: str | None = None) -> list[dict]:
    """Test metrics with 95% CIs from eval_test.json, one row per metric and one column per
    distinct validation-chosen preset: narrow enough to read without scrolling."""
    values = {k: float(v) for k, v in evaluation["thresholds"].items()}
    groups = preset_groups(values, default or evaluation.get("default_threshold"))
    return [{"metric": METRIC_NAMES[k],
             **{preset_label(p, values, groups): f"{format_number(evaluation['metrics'][p][k]['value'])} "
                                                 f"({format_ci(evaluation['metrics'][p][k])})" for p in groups}}
            for k in CARD_METRICS]


def validation_rows(meta: ModelMetadata) -> list[dict]:
    """model.json's validation metrics, one row per distinct preset (coinciding ones share it)."""
    values = {k: float(v) for k, v in meta.thresholds.items()}
    groups = preset_groups(values, meta.default_threshold)
    return [{"operating point": " = ".join(groups[p]),
             **{METRIC_NAMES.get(k, k): format_number(v[p]) for k, v in meta.validation.items()}} for p in groups]


def threshold_notes(meta: ModelMetadata) -> list[str]:
    """One line per preset: value and the rule that chose it; a note when presets coincide,
    and one when the 'screening' preset is not the more sensitive one (it is defined by a
    sensitivity floor on validation, not as 'lower than balanced')."""
    th, rules = meta.thresholds, meta.threshold_rule
    notes = [f"{k} = {float(v):.3f}: {rules[k]}" for k, v in th.items()]
    same = [names for names in preset_groups({k: float(v) for k, v in th.items()}).values() if len(names) > 1]
    notes += [f"{' and '.join(names)} are the same threshold for this model, so the app offers them as one choice."
              for names in same]
    if "screening" in th and "balanced" in th and float(th["screening"]) > float(th["balanced"]):
        notes.append("For this model the screening threshold is above the balanced one: validation sensitivity "
                     "stays at or above its floor up to that higher threshold, so it calls fewer images PNEUMONIA "
                     "than the balanced preset. Use the slider for a more sensitive operating point.")
    return notes


_CLASS_NOTE = re.compile(r"\s*\((not )?class-specific\)\s*$")


def saliency_caveats(methods: dict | None = None) -> str:
    """Markdown bullet list: what the maps are and are not, per shipped method."""
    if methods is None:
        from ..runtime.resources import saliency_methods  # waits for the CAM stack
        methods = saliency_methods()
    lines = [
        "- Maps are **relative**: each is scaled to its own maximum, so every map has a hottest spot, even on a "
        "normal film. Compare where, not how hot.",
        "- They show which regions **the model** relied on; they are **not localisation ground truth** and were "
        "never checked against annotated consolidation.",
        "- Maps are coarse: occlusion blanks 14x14 cells; the Grad-CAM family uses an intermediate layer (28x28 for the "
        "default model), chosen on validation films (docs/saliency.md).",
        "- The app explains the class the model called at the current threshold (shown under each map).",
    ]
    for key, spec in methods.items():
        label, specific = (spec[2] if len(spec) > 2 else key), bool(spec[1])
        label = _CLASS_NOTE.sub("", label) or key  # the sentence says it: "EigenCAM", not "EigenCAM (not class-specific)"
        lines.append(f"- **{escape_markdown(label)}**: " + (
            "class-specific (explains the called class)." if specific else
            "**not class-specific**: it shows the dominant activation pattern, the same map whatever the call."))
    return "\n".join(lines)


def site_calibration_notes() -> list[str]:
    """How a site profile is fitted and where its thresholds come from: the rules themselves,
    read from the code that applies them."""
    from ...calibration.recalibration import RECALIBRATION_RULE
    from ...calibration.site import MIN_PER_CLASS, WIDE_BELOW_PER_CLASS, site_thresholds
    _, rules = site_thresholds()
    return [f"Recalibration: {RECALIBRATION_RULE}.",
            *(f"{name} threshold: {rule}." for name, rule in rules.items()),
            f"At least {MIN_PER_CLASS} films of each class; below {WIDE_BELOW_PER_CLASS} of each the profile warns "
            "that its estimates are wide. Its estimates are cross-fitted on patient-grouped folds of the sample."]


def site_study_rows(study: dict, sizes: tuple[str, ...] = ("25", "50", "100", "200")) -> list[dict]:
    """The site study (site_study_test.json) as rows: per number of labelled films, the mean and
    95% range of each metric over the draws."""
    names = {"accuracy": "accuracy", "recall": "sensitivity", "specificity": "specificity", "ece": "ECE"}
    rows = []
    for n in sizes:
        row = study["sizes"].get(n)
        if row is None:
            continue
        rows.append({"labelled films": int(n), **{label: f"{row[k]['mean']:.3f} ({row[k]['p2_5']:.3f}–{row[k]['p97_5']:.3f})"
                                                  for k, label in names.items()}})
    return rows


def adapt_study_rows(study: dict) -> list[dict]:
    """The label-free operating-point study (adapt_study_test.json) as rows: per prevalence,
    the model's own threshold and the fitted one, the mean and 5th percentile over the draws."""
    rows = []
    for prevalence, by_method in study["summary"]["clean"].items():
        for method, row in by_method.items():
            rows.append({"prevalence": f"{float(prevalence):.0%}",
                         "threshold": "the model's own" if method == "none" else f"fitted to the site ({method})",
                         **{label: f"{row[k]['mean']:.3f} (5th pct {row[k]['p5']:.3f})"
                            for k, label in (("sensitivity", "sensitivity"), ("specificity", "specificity"),
                                             ("estimated_prevalence", "estimated prevalence"))}})
    return rows
