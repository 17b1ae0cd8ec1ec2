"""What the model card and the model comparison show, read straight from model.json and
`eval_test.json` at the validation-chosen presets: table rows and captions, no Streamlit
(except `saliency_caveats`, which by default asks `resources` for the shipped methods).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .eval_views import METRIC_NAMES, EvalView
from .formatting import calibration_label, escape_markdown, format_ci, format_number

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile
    from ..models.metadata import ModelMetadata

__all__ = ["train_prevalence", "prevalence_note", "calibration_caption", "site_calibration_caption",
    "site_calibration_notes", "site_study_rows",
    "test_split_caption", "site_profile_rows", "comparison_rows", "card_metric_rows",
    "validation_rows", "threshold_notes", "training_rows", "saliency_caveats"]


def train_prevalence(meta: ModelMetadata) -> float:
    c = meta.train_counts
    total = sum(c.values())
    return c["PNEUMONIA"] / total if total else float("nan")


def prevalence_note(ev: dict, meta: ModelMetadata) -> str:
    """Markdown (numbers only, from the files) stating the test set and its prevalence."""
    c = ev["counts"]
    note = (f"**{ev['n']} test images**: {c['NORMAL']} NORMAL, {c['PNEUMONIA']} PNEUMONIA, so the test prevalence "
            f"of pneumonia is **{ev['prevalence']:.1%}**")
    tp = train_prevalence(meta)
    if np.isfinite(tp):
        note += f" (training data: {tp:.1%})"
    return note + ". PPV and NPV depend on prevalence; in your population they will differ."


def calibration_caption(ev: dict, meta: ModelMetadata) -> str:
    """How calibration on validation (where the temperature was fitted) carried over to test."""
    test_ece = next(iter(ev["metrics"].values()))["ece"]["value"]
    val_ece = meta.validation["ece"][meta.default_threshold]
    return (f"The temperature ({meta.temperature:.3f}) was fitted on validation data "
            f"(train-like: {train_prevalence(meta):.0%} pneumonia). ECE {float(val_ece):.3f} on validation, "
            f"{test_ece:.3f} on this test split.")


def site_calibration_caption(view: EvalView, profile: SiteProfile) -> str:
    """How a site profile's calibration reads on the test split, beside its own cross-fitted
    estimate on the sample it was fitted on."""
    test_ece = next(iter(view.ev["metrics"].values()))["ece"]["value"]
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
            f"cost, not tuned on any sample). 95% CIs: percentile bootstrap, {view.ev.get('bootstrap', '')}.")


def site_profile_rows(profile: SiteProfile) -> list[dict]:
    """A site profile as field/value rows for the model card: what it was fitted on, the
    recalibration, its thresholds and its cross-fitted estimates."""
    c = profile.counts
    rows = [
        ("calibration", calibration_label(profile.name)),
        ("fitted on", f"{sum(c.values())} labelled films ({c.get('NORMAL', 0)} NORMAL, {c.get('PNEUMONIA', 0)} "
                      f"PNEUMONIA) of {profile.patients} patients"),
        ("site prevalence", f"{profile.site_prevalence:.1%} ({profile.prevalence_source})"),
        ("recalibration", f"P = sigmoid({profile.intercept:.3f} + {profile.slope:.3f} x logit)"
                          + ("" if profile.slope_fitted else ", slope fixed at 1 (sample too small to fit it)")),
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
    """One row per model at its own validation-chosen thresholds, from the files."""
    rows = []
    for name, ev in reports.items():
        for preset, t in ev["thresholds"].items():
            m = ev["metrics"][preset]
            ci = lambda k: f"{m[k]['value']:.3f} ({m[k]['ci_low']:.3f}–{m[k]['ci_high']:.3f})"  # noqa: E731
            rows.append({
                "model": name, "operating point": preset, "threshold": f"{float(t):.3f}",
                "ROC AUC": ci("roc_auc"), "sensitivity": ci("recall"), "specificity": ci("specificity"),
                "PPV": ci("precision"), "NPV": ci("npv"), "Brier": f"{m['brier']['value']:.3f}",
                "ECE": f"{m['ece']['value']:.3f}",
            })
    return rows


def card_metric_rows(ev: dict) -> list[dict]:
    """Test metrics with 95% CIs at each validation-chosen preset, from eval_test.json."""
    rows = []
    for preset, t in ev["thresholds"].items():
        m = ev["metrics"][preset]
        row = {"operating point": preset, "threshold": format_number(float(t))}
        for k in ("recall", "specificity", "precision", "npv", "accuracy", "roc_auc"):
            row[METRIC_NAMES[k]] = f"{format_number(m[k]['value'])} ({format_ci(m[k])})"
        rows.append(row)
    return rows


def validation_rows(meta: ModelMetadata) -> list[dict]:
    """model.json's validation metrics, one row per preset."""
    return [{"operating point": p, **{METRIC_NAMES.get(k, k): format_number(v[p]) for k, v in meta.validation.items()}}
            for p in meta.thresholds]


def threshold_notes(meta: ModelMetadata) -> list[str]:
    """One line per preset: value and the rule that chose it; plus a note when the
    'screening' preset is not the more sensitive one (it is defined by a sensitivity floor
    on validation, not as 'lower than balanced')."""
    th, rules = meta.thresholds, meta.threshold_rule
    notes = [f"{k} = {float(v):.3f}: {rules[k]}" for k, v in th.items()]
    if "screening" in th and "balanced" in th and float(th["screening"]) > float(th["balanced"]):
        notes.append("For this model the screening threshold is above the balanced one: validation sensitivity "
                     "stays at or above its floor up to that higher threshold, so it calls fewer images PNEUMONIA "
                     "than the balanced preset. Use the slider for a more sensitive operating point.")
    return notes


_AUGMENT_WORDS = {"rotate_deg": "rotation ±{:g}°", "zoom": "zoom ±{:.0%}", "shift": "shift ±{:.0%}",
                  "brightness": "brightness ±{:.0%}", "contrast": "contrast ±{:.0%}", "gamma": "gamma ±{:g}",
                  "blur_sigma": "blur up to σ {:g} px", "noise": "noise up to {:g}"}


def _augment_text(aug: dict) -> str:
    parts = []
    for k, v in aug.items():
        if k == "hflip":
            parts.append("horizontal flips" if v else "no horizontal flips")
        elif k in _AUGMENT_WORDS and isinstance(v, (int, float)):
            parts.append(_AUGMENT_WORDS[k].format(v))
        else:
            parts.append(f"{k} {v}")
    return ", ".join(parts) or "–"


def _regularisation_text(cfg: dict) -> str:
    ls, mix, scale = cfg["label_smoothing"], cfg["mixup"], cfg["backbone_lr_scale"]  # scale 0 = frozen backbone
    parts = ([f"label smoothing {ls}"] if ls else []) + ([f"mixup {mix}"] if mix else []) \
        + ([f"backbone learning rate x{scale} of the head's"] if scale != 1 else [])
    return ", ".join(parts) or "none (hard labels, one learning rate)"


def _fitted_on(meta: ModelMetadata) -> str:
    cal = meta.calibration
    if cal is None or cal["fitted_on"] == ["clean"]:  # no record: trained before the choice existed, on clean
        return "fitted on clean validation"
    return "fitted on clean validation pooled with simulated shifts"


def _calibration_choice_text(meta: ModelMetadata) -> str:
    """Why the temperature and thresholds were fitted where they were, with the held-out losses."""
    cal = meta.calibration
    if cal is None:
        return "not recorded (trained before the choice existed)"
    held_out = {w: v for w, v in cal["mean_held_out"].items() if w in ("clean", "pooled")}
    loss = ", ".join(f"{w} fit {v['balanced_log_loss']:.4f}" for w, v in held_out.items())
    acc = ", ".join(f"{w} fit {v['balanced_accuracy']:.4f}" for w, v in held_out.items())
    return cal["rule"] + (f". Mean held-out balanced log loss: {loss}; balanced accuracy: {acc}" if loss else "")


def _early_stop_text(cfg: dict) -> str:
    first = math.ceil(cfg["early_stop_from"] * cfg["epochs"])
    return (f"; of {cfg['epochs']} scheduled, early stopping after {cfg['patience']} epochs without improvement"
            + (f", never before epoch {first}" if first else ""))


def training_rows(meta: ModelMetadata, selection: dict | None = None) -> list[dict]:
    """The training protocol as field/value rows, from model.json (and the model's
    selection.json record, when it has one)."""
    tr = meta.training
    cfg = tr["config"]
    counts = lambda c: ", ".join(f"{v} {k}" for k, v in c.items())  # noqa: E731
    hf = meta.hflip_decision
    flips = ("used" if hf["hflip"] else "not used") + f": {hf['rule']}"
    if "best_val_loss" in hf:
        flips += "; best validation loss " + ", ".join(f"{k} {v:.4f}" for k, v in hf["best_val_loss"].items())
    if "note" in hf:
        flips += f" ({hf['note']})"
    rows = [
        ("architecture", meta.architecture),
        ("input", "{size}x{size} px, {channels} channel(s), squashed to a square (no crop)".format(**meta.input)),
        ("output", meta.output),
        ("initialisation", "ImageNet weights" if "ImageNet" in meta.description else "from scratch"),
        ("training images", counts(meta.train_counts)),
        ("validation images", counts(meta.validation_counts) + f" ({cfg['val_fraction']:.0%} of train, patient-grouped)"),
        ("epochs", f"{meta.epochs_run} run, epoch {meta.best_epoch} kept (best validation loss)" + _early_stop_text(cfg)),
        ("optimiser", f"lr {cfg['lr']}, batch {cfg['batch_size']}, weight decay {cfg['weight_decay']}, "
                      f"early-stopping patience {cfg['patience']}"),
        ("augmentation", _augment_text(cfg["augment"])),
        ("soft targets and backbone learning rate", _regularisation_text(cfg)),
        ("horizontal flips", flips),
        ("model selection", f"{selection['chosen']}: {selection['rule']} (selection.json)" if selection else "–"),
        ("temperature", f"{meta.temperature:.3f}, {_fitted_on(meta)}, like the thresholds"),
        ("calibration choice", _calibration_choice_text(meta)),
        ("out-of-distribution flag", f"{meta.ood['method']}; {meta.ood['threshold_rule']}"),
        ("hardware", f"{tr['hardware']}, {tr['wall_seconds']} s, torch {tr['torch']}"),
    ]
    return [{"field": k, "value": str(v)} for k, v in rows]


def saliency_caveats(methods: dict | None = None) -> str:
    """Markdown bullet list: what the maps are and are not, per shipped method."""
    if methods is None:
        from .resources import saliency_methods  # waits for the CAM stack
        methods = saliency_methods()
    lines = [
        "- Maps are **relative**: each is scaled to its own maximum, so every map has a hottest spot, even on a "
        "normal film. Compare where, not how hot.",
        "- They show which regions **the model** relied on; they are **not localisation ground truth** and were "
        "never checked against annotated consolidation.",
        "- They are coarse: computed on the last convolutional layer's grid and upsampled to the image.",
        "- The app explains the class the model called at the current threshold (shown under each map).",
    ]
    for key, spec in methods.items():
        label, specific = (spec[2] if len(spec) > 2 else key), bool(spec[1])
        lines.append(f"- **{escape_markdown(label)}**: " + (
            "class-specific (explains the called class)." if specific else
            "**not class-specific**: it shows the dominant activation pattern, the same map whatever the call."))
    return "\n".join(lines)


def site_calibration_notes() -> list[str]:
    """How a site profile is fitted and where its thresholds come from: the rules themselves,
    read from the code that applies them."""
    from ..calibration.recalibration import RECALIBRATION_RULE
    from ..calibration.site import MIN_PER_CLASS, WIDE_BELOW_PER_CLASS, site_thresholds
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
