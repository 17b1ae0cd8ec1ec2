"""What the evaluation pages compute from `eval_test.json` at any threshold, without
Streamlit: confusion matrix, metrics with bootstrap CIs (`metrics.threshold_metrics_ci`),
per-class tables, the ROC/PR operating point, galleries of test cases, staleness checks.

Under a site profile the pages read the test split as that profile calibrates it
(`EvalView`): the out-of-fold evaluation of `site_study_test.json` when the profile was
fitted on the test split itself (scoring those films with it would grade it on its own
sample), else the source evaluation's probabilities recalibrated by the profile. An adapted
profile changes the network itself: the pages then show the model as shipped, and say so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...data.dataset import CLASSES
from ...evaluation.operating_point import STUDY_PROFILE, fitted_on_split  # one rule for "fitted on this split"
from ...stats.decision import calls_pneumonia
from ...stats.metrics import confusion_counts, threshold_metrics_ci
from ..reading.cases import label_at
from ..runtime.formatting import SOURCE_CALIBRATION, calibration_label, format_ci, format_number

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile

__all__ = ["EvalView", "OUT_OF_FOLD_NOTE", "STUDY_PROFILE", "RECALIBRATED_N_BOOT", "source_view", "fitted_on_split",
    "recalibrated_eval", "site_view", "adapted_view", "N_BOOT", "THRESHOLD_METRICS", "FREE_METRICS", "METRIC_NAMES", "eval_arrays", "confusion",
    "confusion_caption", "threshold_metrics", "metrics_table", "per_class_metrics_ci", "per_class_table",
    "operating_point", "gallery", "eval_consistency"]

N_BOOT = 1000
THRESHOLD_METRICS = ("recall", "specificity", "precision", "npv", "accuracy", "f1")  # what a clinician asks first
FREE_METRICS = ("roc_auc", "average_precision", "brier", "ece")
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "recall": "Sensitivity (recall)",
    "specificity": "Specificity",
    "precision": "PPV (precision)",
    "npv": "NPV",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "average_precision": "Average precision (PR AUC)",
    "brier": "Brier score (lower is better)",
    "ece": "ECE, 10 bins (lower is better)",
}
OUT_OF_FOLD_NOTE = "out-of-fold: no film scored by a fit that saw it or its patient"
RECALIBRATED_N_BOOT = 200  # the page computes these on the fly: 200 resamples keep it to a second or two


@dataclass(frozen=True)
class EvalView:
    """The test split as the chosen calibration reads it: the evaluation (eval_test.json's
    layout), what it is calibrated on in plain words, and how its probabilities came about."""
    evaluation: dict
    calibration: str  # "calibrated on validation data" / "calibrated for <site>"
    how: str          # how its probabilities came about, read after `calibration` (`banner`): never restating it
    out_of_fold: bool = False

    @property
    def banner(self) -> str:
        """The pages' one line on it, in markdown: "**Probabilities <calibration>**: <how>."."""
        return f"**Probabilities {self.calibration}**: {self.how}."

    @property
    def thresholds(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.evaluation["thresholds"].items()}

    @property
    def is_site(self) -> bool:
        return self.calibration != SOURCE_CALIBRATION


def source_view(evaluation: dict) -> EvalView:
    return EvalView(evaluation, SOURCE_CALIBRATION, "temperature scaling fitted on the model's validation films; the "
                    "test split was never used to choose the model, its temperature or its thresholds")


def adapted_view(evaluation: dict, profile: SiteProfile) -> EvalView:
    """Under a profile that re-estimated the network's normalisation: the model as shipped,
    said so. That profile changes the network itself, so recalibrating the source probabilities
    would show a model that does not exist,
    and re-scoring 624 films on every choice of profile is not a page's work; the adaptation
    study (model card) measures adapting on this split."""
    return EvalView(evaluation, SOURCE_CALIBRATION, f"the model as shipped: site profile "
                    f"{profile.name} adapts the network itself, and this page does not re-score the test split with "
                    "it; the adaptation study on the model card measures adapting on this split")


def recalibrated_eval(evaluation: dict, profile: SiteProfile, n_boot: int = RECALIBRATED_N_BOOT) -> dict:
    """eval_test.json with each film's probability recalibrated by the profile (from the
    logit of the source probability), at the profile's thresholds. Imports `evaluate`, which
    imports torch: callers in the app first wait for the warm-up (`resources`)."""
    from ...calibration.recalibration import logit
    from ...data.dataset import Item
    from ...evaluation.evaluate import evaluation_report
    items = [Item(Path(p["file"]), CLASSES.index(p["label"])) for p in evaluation["predictions"]]
    probs = profile.probability(logit(np.array([p["probability"] for p in evaluation["predictions"]], dtype=np.float64)))
    out = evaluation_report(evaluation["model"], evaluation.get("model_sha256", ""), evaluation.get("split", "test"),
                            items, probs,
                            {k: float(v) for k, v in profile.thresholds.items()}, profile.default_threshold, n_boot)
    out["calibration"] = f"source probabilities recalibrated by site profile {profile.name}"
    return out


def site_view(profile: SiteProfile, source_ev: dict, study_ev: dict | None, recalibrated: dict | None,
              shipped: bool = False) -> EvalView:
    """The evaluation the pages show under a site profile (see the module docstring).
    `study_ev` is site_study_test.json's out-of-fold evaluation, `recalibrated` the result
    of `recalibrated_eval` (either may be None when not needed or not available)."""
    label = calibration_label(profile.name)
    if fitted_on_split(profile, source_ev, shipped):
        if study_ev is not None:
            folds = re.search(r"\(([^()]*)\)", str(study_ev.get("calibration", "")))
            return EvalView(study_ev, label, f"fitted on this test split, each film read {OUT_OF_FOLD_NOTE}"
                            + (f" ({folds.group(1)})" if folds else ""), out_of_fold=True)
        if recalibrated is not None:
            return EvalView(recalibrated, label, "this profile was fitted on these very films and no out-of-fold "
                            "evaluation ships with the model: the numbers below grade the profile on its own "
                            "sample and are optimistic")
    if recalibrated is None:
        raise ValueError("site_view needs the recalibrated evaluation for a profile not fitted on this split")
    return EvalView(recalibrated, label, "each test film's source score recalibrated by this profile; films of its "
                    "calibration sample, if any are in the test split, are not held out")


def eval_arrays(evaluation: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(labels 0/1, calibrated probabilities, file keys relative to data/)."""
    preds = evaluation["predictions"]
    labels = np.array([CLASSES.index(p["label"]) for p in preds], dtype=int)
    probs = np.array([p["probability"] for p in preds], dtype=float)
    return labels, probs, [p["file"] for p in preds]


def confusion(labels: np.ndarray, probs: np.ndarray, threshold: float) -> np.ndarray:
    """[[TN, FP], [FN, TP]]: rows actual NORMAL/PNEUMONIA, columns predicted."""
    return np.array(confusion_counts(labels, probs, threshold)).reshape(2, 2)


def confusion_caption(matrix: np.ndarray) -> str:
    (tn, fp), (fn, tp) = np.asarray(matrix)
    return (f"{tp} pneumonia cases found, {fn} missed (false negatives); {tn} normals cleared, "
            f"{fp} over-called (false positives).")


def _preset_name(evaluation: dict, threshold: float) -> str | None:
    for name, t in evaluation.get("thresholds", {}).items():
        if abs(float(t) - threshold) < 1e-9 and name in evaluation.get("metrics", {}):
            return name
    return None


def threshold_metrics(evaluation: dict, threshold: float, n_boot: int = N_BOOT) -> dict[str, dict[str, float]]:
    """{metric: {value, ci_low, ci_high}} at any threshold. At a model's own preset the
    numbers are the evaluation file's (so every page and the model card agree); elsewhere
    they are bootstrapped here from the per-image predictions. Threshold-free metrics
    (AUC, AP, Brier, ECE) always come from the file. `f1_normal` is F1 with NORMAL as
    the positive class (not in the file, always bootstrapped)."""
    labels, probs, _ = eval_arrays(evaluation)
    patients = [p.get("patient", p["file"]) for p in evaluation["predictions"]]  # older files: per image
    boot = threshold_metrics_ci(labels, probs, threshold, n_boot, groups=patients)
    preset = _preset_name(evaluation, threshold)
    any_preset = next(iter(evaluation["metrics"].values()))
    out = {}
    for k in THRESHOLD_METRICS:
        src = evaluation["metrics"][preset] if preset and k in evaluation["metrics"][preset] else boot
        out[k] = {f: float(src[k][f]) for f in ("value", "ci_low", "ci_high")}
    out["f1_normal"] = boot["f1_normal"]
    for k in FREE_METRICS:
        out[k] = {f: float(any_preset[k][f]) for f in ("value", "ci_low", "ci_high")}
    return out


def metrics_table(evaluation: dict, threshold: float, n_boot: int = N_BOOT) -> list[dict]:
    """Display rows: metric, value, 95% CI, whether the slider moves it; sensitivity and
    specificity first, the threshold-free summaries last."""
    m = threshold_metrics(evaluation, threshold, n_boot)
    return [{"metric": METRIC_NAMES[k], "value": format_number(m[k]["value"]), "95% CI": format_ci(m[k]),
             "moves with threshold": "yes" if k in THRESHOLD_METRICS else "no"}
            for k in (*THRESHOLD_METRICS, *FREE_METRICS)]


def per_class_metrics_ci(evaluation: dict, threshold: float, n_boot: int = N_BOOT) -> dict[str, dict[str, dict]]:
    """{class: {precision|recall|f1: {value, ci_low, ci_high}, support: int}}, that class
    taken as positive (NORMAL's precision is the NPV, its recall the specificity)."""
    m = threshold_metrics(evaluation, threshold, n_boot)
    labels, _, _ = eval_arrays(evaluation)
    return {
        "PNEUMONIA": {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"],
                      "support": int((labels == CLASSES.index("PNEUMONIA")).sum())},
        "NORMAL": {"precision": m["npv"], "recall": m["specificity"], "f1": m["f1_normal"],
                   "support": int((labels == CLASSES.index("NORMAL")).sum())},
    }


def per_class_table(evaluation: dict, cls: str, threshold: float, n_boot: int = N_BOOT) -> list[dict]:
    c = per_class_metrics_ci(evaluation, threshold, n_boot)[cls]
    names = {"PNEUMONIA": ("Precision (PPV)", "Recall (sensitivity)"),
             "NORMAL": ("Precision (NPV)", "Recall (specificity)")}[cls]
    rows = [{"metric": n, "value": format_number(c[k]["value"]), "95% CI": format_ci(c[k])}
            for n, k in zip((*names, "F1"), ("precision", "recall", "f1"))]
    return rows + [{"metric": "Support (test images)", "value": str(c["support"]), "95% CI": ""}]


def operating_point(evaluation: dict, threshold: float) -> dict[str, float]:
    """The point a threshold puts on the ROC and PR curves."""
    labels, probs, _ = eval_arrays(evaluation)
    (tn, fp), (fn, tp) = confusion(labels, probs, threshold)
    rate = lambda a, b: float(a / b) if b > 0 else float("nan")  # noqa: E731
    return {"fpr": rate(fp, fp + tn), "tpr": rate(tp, tp + fn), "precision": rate(tp, tp + fp),
            "recall": rate(tp, tp + fn)}


def gallery(evaluation: dict, cls: str, kind: str, threshold: float, k: int = 6) -> tuple[list[dict], int]:
    """Test cases of true class `cls`: kind "correct" (called `cls`) or "error" (called the
    other class), most confident first; returns (first k, how many there are)."""
    if cls not in CLASSES or kind not in ("correct", "error"):
        raise ValueError(f"cls must be one of {CLASSES} and kind 'correct' or 'error'")
    labels, probs, files = eval_arrays(evaluation)
    mine = labels == CLASSES.index(cls)
    called_mine = calls_pneumonia(probs, threshold) == (cls == "PNEUMONIA")
    sel = np.flatnonzero(mine & (called_mine if kind == "correct" else ~called_mine))
    # confidence in the call that was made: p for a PNEUMONIA call, 1 - p for a NORMAL call
    called_pneumonia = (cls == "PNEUMONIA") == (kind == "correct")
    order = sel[np.argsort(-probs[sel] if called_pneumonia else probs[sel], kind="stable")]
    return ([{"file": files[i], "label": cls, "probability": float(probs[i]),
              "called": label_at(float(probs[i]), threshold)} for i in order[:k]], int(sel.size))


def eval_consistency(evaluation: dict, model_sha256: str, thresholds: dict[str, float]) -> list[str]:
    """Reasons the evaluation file may not describe the model as it is now (weights or
    thresholds changed since it was written); empty when they agree."""
    problems = []
    if evaluation["model_sha256"] != model_sha256:
        problems.append("the evaluation file was computed for other weights than the ones now shipped")
    recorded = evaluation["thresholds"]
    changed = [k for k in thresholds if k not in recorded or abs(float(recorded[k]) - float(thresholds[k])) > 1e-9]
    if changed:
        problems.append("the evaluation file's thresholds differ from the model's for "
                        + ", ".join(f"{k} ({float(recorded[k]):.3f} there, {float(thresholds[k]):.3f} now)" if k in recorded
                                    else f"{k} (missing there)" for k in changed))
    return problems
