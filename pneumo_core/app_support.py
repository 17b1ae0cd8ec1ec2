"""What the Streamlit pages compute, kept here so a plain pytest can check it.

Three layers, top to bottom:

* pure functions over `eval_test.json` / `history.json` / predictions: threshold-dependent
  confusion matrix and metrics with bootstrap CIs, galleries, table rows, CSV, overlays;
* plotly figure builders (the pages only place them);
* the Streamlit glue: cached resources loaded in ONE place (`get_predictor` is an
  `st.cache_resource`; scores and heatmaps are `st.cache_data` keyed on the file's
  content hash and the settings that change them), and the shared sidebar.

Slider moves never re-run the network: a score does not depend on the threshold (the
label is re-derived from the cached probability), and a heatmap is cached without its
opacity (the overlay is re-blended from the cached map).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from .data import CLASSES
from .ingest import IngestError, load

__all__ = [
    "REPO_DIR", "DATA_DIR", "EXAMPLES_DIR", "DISCLAIMER", "Settings", "CaseResult", "Heatmap", "content_digest",
    "escape_markdown", "safe_filename", "format_probability", "label_at", "eval_arrays", "confusion",
    "threshold_metrics", "metrics_table", "per_class_metrics_ci", "per_class_table", "format_ci",
    "operating_point", "gallery", "eval_consistency", "train_prevalence", "prevalence_note", "card_metric_rows",
    "validation_rows", "threshold_notes", "training_rows", "saliency_caveats", "calibration_caption",
    "confusion_caption", "result_rows", "batch_summary", "case_details", "rows_to_csv", "comparison_rows",
    "to_display", "blend", "example_files", "test_image_bytes", "roc_figure", "pr_figure", "confusion_figure",
    "reliability_figure", "learning_figure", "probability_histogram", "comparison_roc_figure", "model_meta",
    "eval_report", "history", "get_predictor", "score_file", "heatmap_for", "gallery_case", "show_gallery",
    "warm_up", "sidebar_saliency", "method_label", "stale_eval_warning", "list_models", "split_warnings",
    "sidebar", "settings", "saliency_methods", "resolve_model_dir", "WEIGHTS_DIR", "DEFAULT_MODEL", "BORDERLINE",
    "N_BOOT", "case_report",
]

REPO_DIR = Path(__file__).resolve().parent.parent
# Mirrors of pneumo_core.artifacts (a test checks they agree): importing artifacts imports
# torch, seconds on a small CPU, and the first page must render before that finishes.
WEIGHTS_DIR = REPO_DIR / "weights"
DEFAULT_MODEL = "efficientnet_lite0"
DATA_DIR = REPO_DIR / "data"
EXAMPLES_DIR = REPO_DIR / "examples"
DISPLAY_MAX_SIDE = 768  # px sent to the browser per image; big DICOMs are downsampled for display only
BORDERLINE = 0.05  # |p - threshold| below this is called out as borderline
N_BOOT = 1000
DISCLAIMER = ("Research demo, not a diagnosis and not a medical device. Probabilities are calibrated on "
              "validation data from one paediatric centre; they may not transfer to your patients.")

THRESHOLD_METRICS = ("accuracy", "recall", "specificity", "precision", "npv", "f1")
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
_COLOURS = {"NORMAL": "#1f77b4", "PNEUMONIA": "#d95f02", "threshold": "#444444"}


# --- small helpers ------------------------------------------------------------------
def list_models(root: Path = WEIGHTS_DIR) -> list[str]:
    """The shipped models (same rule as `artifacts.list_models`)."""
    return sorted(p.parent.name for p in root.glob("*/model.json"))


def resolve_model_dir(name: str) -> Path:
    """A shipped model's folder; anything else (a path, a typo) is refused."""
    if name not in list_models():
        raise ValueError(f"unknown model {name!r}; shipped: {', '.join(list_models()) or 'none'}")
    return WEIGHTS_DIR / name


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def escape_markdown(text: str) -> str:
    """Backslash-escapes everything Streamlit markdown would interpret (emphasis, links,
    HTML, `$` maths, `:colour[...]` directives), and flattens newlines to spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def safe_filename(name: str, suffix: str = "", max_len: int = 60) -> str:
    """A download name derived from user input: no directories, no odd characters."""
    stem = Path(str(name).replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem.strip(".") else stem
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:max_len] or "case"
    return stem + suffix


def format_probability(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    if p >= 0.999:
        return "> 99.9%"
    if p < 0.001:
        return "< 0.1%"
    return f"{100 * p:.1f}%"


def label_at(probability: float, threshold: float) -> str:
    """Same rule as `Predictor.label`, without loading a model."""
    return CLASSES[int(probability >= threshold)]


# --- evaluation file arithmetic -----------------------------------------------------
def eval_arrays(ev: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(labels 0/1, calibrated probabilities, file keys relative to data/)."""
    preds = ev["predictions"]
    labels = np.array([CLASSES.index(p["label"]) for p in preds], dtype=int)
    probs = np.array([p["probability"] for p in preds], dtype=float)
    return labels, probs, [p["file"] for p in preds]


def confusion(labels: np.ndarray, probs: np.ndarray, threshold: float) -> np.ndarray:
    """[[TN, FP], [FN, TP]]: rows actual NORMAL/PNEUMONIA, columns predicted."""
    y = np.asarray(labels, dtype=bool)
    pred = np.asarray(probs) >= threshold
    return np.array([[int((~y & ~pred).sum()), int((~y & pred).sum())],
                     [int((y & ~pred).sum()), int((y & pred).sum())]])


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _from_counts(tn, fp, fn, tp) -> dict[str, np.ndarray]:
    return {
        "accuracy": _div(tp + tn, tp + tn + fp + fn),
        "recall": _div(tp, tp + fn),
        "specificity": _div(tn, tn + fp),
        "precision": _div(tp, tp + fp),
        "npv": _div(tn, tn + fn),
        "f1": _div(2 * tp, 2 * tp + fp + fn),
        "f1_normal": _div(2 * tn, 2 * tn + fn + fp),
    }


def _bootstrap(labels: np.ndarray, probs: np.ndarray, threshold: float, n_boot: int = N_BOOT,
               seed: int = 0) -> dict[str, dict[str, float]]:
    """Percentile bootstrap (images resampled with replacement) of every
    threshold-dependent metric, vectorised: ~20 ms for 624 images x 1000 resamples."""
    y = np.asarray(labels, dtype=bool)
    pred = np.asarray(probs) >= threshold
    point = _from_counts(*confusion(y, probs, threshold).ravel())
    idx = np.random.default_rng(seed).integers(0, len(y), (n_boot, len(y)))
    yb, pb = y[idx], pred[idx]
    boot = _from_counts((~yb & ~pb).sum(1), (~yb & pb).sum(1), (yb & ~pb).sum(1), (yb & pb).sum(1))
    out = {}
    for k, v in point.items():
        s = boot[k][~np.isnan(boot[k])]
        lo, hi = np.percentile(s, [2.5, 97.5]) if s.size else (np.nan, np.nan)
        out[k] = {"value": float(v), "ci_low": float(lo), "ci_high": float(hi)}
    return out


def _preset_name(ev: dict, threshold: float) -> str | None:
    for name, t in ev.get("thresholds", {}).items():
        if abs(float(t) - threshold) < 1e-9 and name in ev.get("metrics", {}):
            return name
    return None


def threshold_metrics(ev: dict, threshold: float, n_boot: int = N_BOOT) -> dict[str, dict[str, float]]:
    """{metric: {value, ci_low, ci_high}} at any threshold. At a model's own preset the
    numbers are the evaluation file's (so every page and the model card agree); elsewhere
    they are bootstrapped here from the per-image predictions. Threshold-free metrics
    (AUC, AP, Brier, ECE) always come from the file. `f1_normal` is F1 with NORMAL as
    the positive class (not in the file, always bootstrapped)."""
    labels, probs, _ = eval_arrays(ev)
    boot = _bootstrap(labels, probs, threshold, n_boot)
    preset = _preset_name(ev, threshold)
    any_preset = next(iter(ev["metrics"].values()))
    out = {}
    for k in THRESHOLD_METRICS:
        src = ev["metrics"][preset] if preset and k in ev["metrics"][preset] else boot
        out[k] = {f: float(src[k][f]) for f in ("value", "ci_low", "ci_high")}
    out["f1_normal"] = boot["f1_normal"]
    for k in FREE_METRICS:
        out[k] = {f: float(any_preset[k][f]) for f in ("value", "ci_low", "ci_high")}
    return out


def format_ci(v: dict[str, float], digits: int = 3) -> str:
    lo, hi = v.get("ci_low"), v.get("ci_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "–"
    return f"{lo:.{digits}f} – {hi:.{digits}f}"


def _fmt(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if v is not None and np.isfinite(v) else "–"


def metrics_table(ev: dict, threshold: float, n_boot: int = N_BOOT) -> list[dict]:
    """Display rows: metric, value, 95% CI, whether the slider moves it."""
    m = threshold_metrics(ev, threshold, n_boot)
    return [{"metric": METRIC_NAMES[k], "value": _fmt(m[k]["value"]), "95% CI": format_ci(m[k]),
             "moves with threshold": "yes" if k in THRESHOLD_METRICS else "no"}
            for k in (*THRESHOLD_METRICS, *FREE_METRICS)]


def per_class_metrics_ci(ev: dict, threshold: float, n_boot: int = N_BOOT) -> dict[str, dict[str, dict]]:
    """{class: {precision|recall|f1: {value, ci_low, ci_high}, support: int}}, that class
    taken as positive (NORMAL's precision is the NPV, its recall the specificity)."""
    m = threshold_metrics(ev, threshold, n_boot)
    labels, _, _ = eval_arrays(ev)
    return {
        "PNEUMONIA": {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"],
                      "support": int((labels == CLASSES.index("PNEUMONIA")).sum())},
        "NORMAL": {"precision": m["npv"], "recall": m["specificity"], "f1": m["f1_normal"],
                   "support": int((labels == CLASSES.index("NORMAL")).sum())},
    }


def per_class_table(ev: dict, cls: str, threshold: float, n_boot: int = N_BOOT) -> list[dict]:
    c = per_class_metrics_ci(ev, threshold, n_boot)[cls]
    names = {"PNEUMONIA": ("Precision (PPV)", "Recall (sensitivity)"),
             "NORMAL": ("Precision (NPV)", "Recall (specificity)")}[cls]
    rows = [{"metric": n, "value": _fmt(c[k]["value"]), "95% CI": format_ci(c[k])}
            for n, k in zip((*names, "F1"), ("precision", "recall", "f1"))]
    return rows + [{"metric": "Support (test images)", "value": str(c["support"]), "95% CI": ""}]


def operating_point(ev: dict, threshold: float) -> dict[str, float]:
    """The point a threshold puts on the ROC and PR curves."""
    labels, probs, _ = eval_arrays(ev)
    (tn, fp), (fn, tp) = confusion(labels, probs, threshold)
    return {"fpr": float(_div(fp, fp + tn)), "tpr": float(_div(tp, tp + fn)),
            "precision": float(_div(tp, tp + fp)), "recall": float(_div(tp, tp + fn))}


def gallery(ev: dict, cls: str, kind: str, threshold: float, k: int = 6) -> tuple[list[dict], int]:
    """Test cases of true class `cls`: kind "correct" (called `cls`) or "error" (called the
    other class), most confident first; returns (first k, how many there are)."""
    if cls not in CLASSES or kind not in ("correct", "error"):
        raise ValueError(f"cls must be one of {CLASSES} and kind 'correct' or 'error'")
    labels, probs, files = eval_arrays(ev)
    mine = labels == CLASSES.index(cls)
    called_mine = (probs >= threshold) if cls == "PNEUMONIA" else (probs < threshold)
    sel = np.flatnonzero(mine & (called_mine if kind == "correct" else ~called_mine))
    # confidence in the call that was made: p for a PNEUMONIA call, 1 - p for a NORMAL call
    called_pneumonia = (cls == "PNEUMONIA") == (kind == "correct")
    order = sel[np.argsort(-probs[sel] if called_pneumonia else probs[sel], kind="stable")]
    return ([{"file": files[i], "label": cls, "probability": float(probs[i]),
              "called": label_at(float(probs[i]), threshold)} for i in order[:k]], int(sel.size))


def eval_consistency(ev: dict, meta: dict) -> list[str]:
    """Reasons the evaluation file may not describe the model as it is now (weights or
    thresholds changed since it was written); empty when they agree."""
    problems = []
    if ev.get("model_sha256") and meta.get("model_sha256") and ev["model_sha256"] != meta["model_sha256"]:
        problems.append("the evaluation file was computed for other weights than the ones now shipped")
    ev_t, meta_t = ev.get("thresholds", {}), meta.get("thresholds", {})
    changed = [k for k in meta_t if k not in ev_t or abs(float(ev_t[k]) - float(meta_t[k])) > 1e-9]
    if changed:
        problems.append("the evaluation file's thresholds differ from the model's for "
                        + ", ".join(f"{k} ({float(ev_t[k]):.3f} there, {float(meta_t[k]):.3f} now)" if k in ev_t
                                    else f"{k} (missing there)" for k in changed))
    return problems


def train_prevalence(meta: dict) -> float:
    c = meta.get("train_counts") or {}
    total = sum(c.values())
    return c.get("PNEUMONIA", 0) / total if total else float("nan")


def prevalence_note(ev: dict, meta: dict) -> str:
    """Markdown (numbers only, from the files) stating the test set and its prevalence."""
    c = ev["counts"]
    note = (f"**{ev['n']} test images**: {c['NORMAL']} NORMAL, {c['PNEUMONIA']} PNEUMONIA, so the test prevalence "
            f"of pneumonia is **{ev['prevalence']:.1%}**")
    tp = train_prevalence(meta)
    if np.isfinite(tp):
        note += f" (training data: {tp:.1%})"
    return note + ". PPV and NPV depend on prevalence; in your population they will differ."


def calibration_caption(ev: dict, meta: dict) -> str:
    """How calibration on validation (where the temperature was fitted) carried over to test."""
    test_ece = next(iter(ev["metrics"].values()))["ece"]["value"]
    val = (meta.get("validation") or {}).get("ece") or {}
    val_ece = next(iter(val.values()), None) if isinstance(val, dict) else val
    text = (f"The temperature ({float(meta.get('temperature', 1.0)):.3f}) was fitted on validation data "
            f"(train-like: {train_prevalence(meta):.0%} pneumonia).")
    if val_ece is not None:
        text += f" ECE {float(val_ece):.3f} on validation, {test_ece:.3f} on this test split."
    return text


def confusion_caption(cm: np.ndarray) -> str:
    (tn, fp), (fn, tp) = np.asarray(cm)
    return (f"{tp} pneumonia cases found, {fn} missed (false negatives); {tn} normals cleared, "
            f"{fp} over-called (false positives).")


def comparison_rows(reports: dict[str, dict], metas: dict[str, dict]) -> list[dict]:
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
        row = {"operating point": preset, "threshold": _fmt(float(t))}
        for k in ("recall", "specificity", "precision", "npv", "accuracy", "roc_auc"):
            row[METRIC_NAMES[k]] = f"{_fmt(m[k]['value'])} ({format_ci(m[k])})"
        rows.append(row)
    return rows


def validation_rows(meta: dict) -> list[dict]:
    """model.json's validation metrics, one row per preset."""
    val = meta.get("validation") or {}
    presets = sorted({p for v in val.values() if isinstance(v, dict) for p in v})
    return [{"operating point": p, **{METRIC_NAMES.get(k, k): _fmt(v[p]) for k, v in val.items()
                                      if isinstance(v, dict) and p in v}} for p in presets]


def threshold_notes(meta: dict) -> list[str]:
    """One line per preset: value and the rule that chose it; plus a note when the
    'screening' preset is not the more sensitive one (it is defined by a sensitivity floor
    on validation, not as 'lower than balanced')."""
    th, rules = meta.get("thresholds", {}), meta.get("threshold_rule", {})
    notes = [f"{k} = {float(v):.3f}: {rules.get(k, 'rule not recorded')}" for k, v in th.items()]
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


def training_rows(meta: dict) -> list[dict]:
    """The training protocol as field/value rows, from model.json."""
    cfg = (meta.get("training") or {}).get("config") or {}
    tr = meta.get("training") or {}
    counts = lambda c: ", ".join(f"{v} {k}" for k, v in (c or {}).items()) or "–"  # noqa: E731
    aug = cfg.get("augment") or {}
    hf = meta.get("hflip_decision") or {}
    rows = [
        ("architecture", meta.get("architecture")),
        ("input", "{size}x{size} px, {channels} channel(s), squashed to a square (no crop)".format(**meta["input"])),
        ("output", meta.get("output")),
        ("initialisation", "ImageNet weights" if "ImageNet" in meta.get("description", "") else "from scratch"),
        ("training images", counts(meta.get("train_counts"))),
        ("validation images", counts(meta.get("validation_counts"))
         + (f" ({cfg['val_fraction']:.0%} of train, patient-grouped)" if "val_fraction" in cfg else "")),
        ("epochs", f"{meta.get('epochs_run', '–')} run, epoch {meta.get('best_epoch', '–')} kept (best validation loss)"),
        ("optimiser", f"lr {cfg.get('lr', '–')}, batch {cfg.get('batch_size', '–')}, "
                      f"weight decay {cfg.get('weight_decay', '–')}, early-stopping patience {cfg.get('patience', '–')}"),
        ("augmentation", _augment_text(aug)),
        ("horizontal flips", (("used" if hf.get("hflip") else "not used") + f": {hf.get('rule', '')}; best validation "
                              "loss " + ", ".join(f"{k} {v:.4f}" for k, v in (hf.get("best_val_loss") or {}).items()))
         if hf else "–"),
        ("model selection", f"{(meta.get('selection') or {}).get('chosen', '–')}: "
                            f"{(meta.get('selection') or {}).get('rule', '')}" if meta.get("selection") else "–"),
        ("temperature", f"{float(meta.get('temperature', 1.0)):.3f} (fitted on validation)"),
        ("out-of-distribution flag", f"{(meta.get('ood') or {}).get('method', '–')}; "
                                     f"{(meta.get('ood') or {}).get('threshold_rule', '')}"),
        ("hardware", f"{tr.get('hardware', '–')}, {tr.get('wall_seconds', '–')} s, torch {tr.get('torch', '–')}"),
    ]
    return [{"field": k, "value": str(v)} for k, v in rows]


# --- uploads, results table, CSV -----------------------------------------------------
@dataclass
class CaseResult:
    """Everything about one input that does not depend on the threshold (cached)."""
    name: str
    digest: str
    probability: float | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    ood_score: float | None = None
    source_format: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    display: np.ndarray | None = None  # uint8 HxW, at most DISPLAY_MAX_SIDE a side
    size: tuple[int, int] | None = None  # original (width, height) in pixels
    model: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.probability is not None


def result_rows(results: list[CaseResult], threshold: float, operating_point_name: str) -> list[dict]:
    rows = []
    for r in results:
        rows.append({
            "file": r.name,
            "P(pneumonia)": r.probability,
            "label": label_at(r.probability, threshold) if r.ok else "not scored",
            "threshold": round(threshold, 4),
            "operating point": operating_point_name,
            "model": r.model,
            "warnings / error": ("ERROR: " + r.error) if r.error else "; ".join(r.warnings),
        })
    return rows


def batch_summary(results: list[CaseResult], threshold: float) -> str:
    ok = [r for r in results if r.ok]
    n_pos = sum(label_at(r.probability, threshold) == "PNEUMONIA" for r in ok)
    parts = [f"{len(results)} image{'s' if len(results) != 1 else ''}", f"{n_pos} called PNEUMONIA",
             f"{len(ok) - n_pos} called NORMAL"]
    if len(ok) < len(results):
        parts.append(f"{len(results) - len(ok)} not scored")
    if any(r.warnings for r in ok):
        parts.append(f"{sum(bool(r.warnings) for r in ok)} with warnings")
    return ", ".join(parts)


def case_details(result: CaseResult, ood_threshold: float | None = None) -> list[dict]:
    """Field/value rows for one scored file: format, size, OOD score, whitelisted DICOM tags."""
    rows = [{"field": "format", "value": str(result.source_format)}]
    if result.size is not None:
        rows.append({"field": "size (px)", "value": f"{result.size[0]} x {result.size[1]}"})
    if result.ood_score is not None:
        flag = f" (flagged above {ood_threshold:.2f})" if ood_threshold is not None else ""
        rows.append({"field": "out-of-distribution score", "value": f"{result.ood_score:.2f}{flag}"})
    rows += [{"field": f"DICOM {k}", "value": str(v)} for k, v in result.metadata.items()]
    return rows


def _csv_cell(v) -> object:
    # spreadsheet formula injection: a file name like "=HYPERLINK(...)" must stay text
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    if isinstance(v, float):
        return f"{v:.6f}"
    return "" if v is None else v


def rows_to_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: _csv_cell(v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def to_display(pixels: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """Float [0,1] HxW -> uint8 for the browser, aspect ratio kept."""
    img = Image.fromarray(np.clip(np.rint(np.asarray(pixels, np.float32) * 255), 0, 255).astype(np.uint8))
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.LANCZOS)
    return np.asarray(img)


def blend(gray_u8: np.ndarray, heatmap: np.ndarray, opacity: float) -> np.ndarray:
    """Relative heatmap over the radiograph, RGB uint8 at the radiograph's size. Each
    pixel's colour weight is opacity x heat, so unhighlighted lung stays a plain
    radiograph instead of disappearing under a blue wash."""
    from matplotlib import colormaps
    h, w = gray_u8.shape[:2]
    heat = np.asarray(Image.fromarray(np.asarray(heatmap, np.float32), mode="F").resize((w, h), Image.BILINEAR))
    heat = np.clip(heat, 0.0, 1.0)
    colour = colormaps["jet"](heat)[..., :3]
    base = np.repeat((gray_u8.astype(np.float32) / 255.0)[..., None], 3, axis=2)
    alpha = float(np.clip(opacity, 0.0, 1.0)) * heat[..., None]
    return np.clip(np.rint((base * (1 - alpha) + colour * alpha) * 255), 0, 255).astype(np.uint8)


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES_DIR.glob("*") if p.is_file() and not p.name.startswith("."))


def test_image_bytes(key: str) -> bytes:
    """A file named in eval_test.json ("test/NORMAL/x.jpeg"), read only from inside data/."""
    path = (DATA_DIR / key).resolve()
    if DATA_DIR.resolve() not in path.parents:
        raise ValueError("evaluation file key points outside data/")
    return path.read_bytes()


# --- figures ---------------------------------------------------------------------------
def _layout(fig: go.Figure, title: str, x: str, y: str, square: bool = False) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white", height=420,
                      margin=dict(l=60, r=20, t=60, b=50), legend=dict(orientation="h", y=-0.2))
    if square:
        fig.update_xaxes(range=[-0.01, 1.01], constrain="domain")
        fig.update_yaxes(range=[-0.01, 1.01], scaleanchor="x", scaleratio=1)
    return fig


def roc_figure(ev: dict, threshold: float, meta: dict | None = None) -> go.Figure:
    """ROC with the current threshold (cross) and the presets (circles; from model.json
    when given, as the sidebar offers them, else from the evaluation file)."""
    roc = ev["curves"]["roc"]
    auc = next(iter(ev["metrics"].values()))["roc_auc"]
    op = operating_point(ev, threshold)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"), name="chance")
    fig.add_scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"ROC (AUC {auc['value']:.3f})",
                    customdata=roc["threshold"], hovertemplate="1-spec %{x:.3f}, sens %{y:.3f}, t=%{customdata:.3f}")
    for name, t in ((meta or {}).get("thresholds") or ev["thresholds"]).items():
        p = operating_point(ev, float(t))
        fig.add_scatter(x=[p["fpr"]], y=[p["tpr"]], mode="markers", name=f"{name} preset ({float(t):.3f})",
                        marker=dict(symbol="circle-open", size=11, line=dict(width=2)))
    fig.add_scatter(x=[op["fpr"]], y=[op["tpr"]], mode="markers", name=f"current threshold ({threshold:.3f})",
                    marker=dict(symbol="x", size=13, color="black"))
    return _layout(fig, "ROC curve (test split)", "1 − specificity (false-positive rate)", "Sensitivity", square=True)


def pr_figure(ev: dict, threshold: float) -> go.Figure:
    pr = ev["curves"]["pr"]
    ap = next(iter(ev["metrics"].values()))["average_precision"]
    op = operating_point(ev, threshold)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[ev["prevalence"]] * 2, mode="lines", line=dict(dash="dot", color="#bbbbbb"),
                    name=f"test prevalence ({ev['prevalence']:.1%})")
    fig.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines", name=f"PR (AP {ap['value']:.3f})",
                    customdata=pr["threshold"], hovertemplate="sens %{x:.3f}, PPV %{y:.3f}, t=%{customdata:.3f}")
    fig.add_scatter(x=[op["recall"]], y=[op["precision"]], mode="markers", name=f"current threshold ({threshold:.3f})",
                    marker=dict(symbol="x", size=13, color="black"))
    return _layout(fig, "Precision–recall curve (test split)", "Sensitivity (recall)", "PPV (precision)", square=True)


def confusion_figure(cm: np.ndarray, threshold: float) -> go.Figure:
    """Counts, rows = reference label, columns = the call at `threshold` (in the hover)."""
    names = list(CLASSES)
    fig = px.imshow(np.asarray(cm), text_auto=True, color_continuous_scale="Blues", aspect="equal",
                    x=[f"called {c}" for c in names], y=[f"truly {c}" for c in names],
                    labels=dict(x="Model call", y="Reference label", color="images"))
    fig.update_traces(textfont_size=22, hovertemplate=f"%{{y}}, %{{x}} at threshold {threshold:.3f}: %{{z}} images"
                      "<extra></extra>")
    fig.update_layout(height=360, margin=dict(l=60, r=20, t=20, b=40), coloraxis_showscale=False)
    return fig


def reliability_figure(ev: dict) -> go.Figure:
    cal = ev["curves"]["calibration"]
    m = next(iter(ev["metrics"].values()))
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"), name="perfect calibration")
    sizes = np.sqrt(np.asarray(cal["count"], float))
    fig.add_scatter(x=cal["mean_predicted"], y=cal["fraction_positive"], mode="lines+markers", name="model (10 bins)",
                    marker=dict(size=6 + 24 * sizes / max(sizes.max(), 1)), customdata=cal["count"],
                    hovertemplate="mean predicted %{x:.2f}, observed %{y:.2f}, n=%{customdata}")
    title = f"Reliability (test split): ECE {m['ece']['value']:.3f}, Brier {m['brier']['value']:.3f}"
    return _layout(fig, title, "Mean predicted P(pneumonia)", "Observed fraction with pneumonia", square=True)


def learning_figure(hist: list[dict], best_epoch: int | None = None) -> go.Figure:
    from plotly.subplots import make_subplots
    ep = [h["epoch"] for h in hist]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Validation accuracy and AUC"))
    fig.add_scatter(x=ep, y=[h["train_loss"] for h in hist], name="train loss", row=1, col=1)
    fig.add_scatter(x=ep, y=[h["val_loss"] for h in hist], name="validation loss", row=1, col=1)
    fig.add_scatter(x=ep, y=[h["val_accuracy"] for h in hist], name="validation accuracy", row=1, col=2)
    fig.add_scatter(x=ep, y=[h["val_auc"] for h in hist], name="validation AUC", row=1, col=2)
    if best_epoch is not None:
        for col in (1, 2):
            fig.add_vline(x=best_epoch, line_dash="dash", line_color="#888888", row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template="plotly_white", height=380, margin=dict(l=60, r=20, t=60, b=50),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def probability_histogram(ev: dict, cls: str, threshold: float) -> go.Figure:
    labels, probs, _ = eval_arrays(ev)
    p = probs[labels == CLASSES.index(cls)]
    fig = go.Figure(go.Histogram(x=p, xbins=dict(start=0, end=1.0001, size=0.025), marker_color=_COLOURS[cls],
                                 name=f"truly {cls}"))
    fig.add_vline(x=threshold, line_dash="dash", line_color="black",
                  annotation_text=f"threshold {threshold:.3f}", annotation_position="top")
    side = "right of" if cls == "PNEUMONIA" else "left of"
    fig.update_layout(bargap=0.05, showlegend=False)
    fig.update_xaxes(range=[0, 1])
    # log scale: the few errors stay visible next to hundreds of confident calls
    fig.update_yaxes(type="log", tickvals=[1, 2, 5, 10, 20, 50, 100, 200, 500], range=[-0.1, np.log10(max(p.size, 2)) + 0.1])
    return _layout(fig, f"P(pneumonia), {p.size} truly {cls} test images (correct: {side} the line)",
                   "Calibrated P(pneumonia)", "images (log scale)")


def comparison_roc_figure(reports: dict[str, dict], current: str, zoom: bool = False) -> go.Figure:
    """Both models' ROC curves; `zoom` shows the top-left corner where operating points live."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"), name="chance")
    for name, ev in reports.items():
        auc = next(iter(ev["metrics"].values()))["roc_auc"]["value"]
        fig.add_scatter(x=ev["curves"]["roc"]["fpr"], y=ev["curves"]["roc"]["tpr"], mode="lines",
                        name=f"{name} (AUC {auc:.3f})", line=dict(width=3 if name == current else 1.5))
    if zoom:
        _layout(fig, "Top-left corner, zoomed", "1 − specificity", "Sensitivity")
        fig.update_xaxes(range=[0, 0.5])
        return fig.update_yaxes(range=[0.8, 1.005])
    return _layout(fig, "ROC, both models (test split)", "1 − specificity", "Sensitivity", square=True)


# --- Streamlit: cached resources, loaded here and nowhere else ---------------------------
def _stamp(path: Path) -> tuple[str, int]:
    st_ = path.stat()
    return str(path), st_.st_mtime_ns ^ st_.st_size  # a replaced file (retrained model) is re-read


@st.cache_data(show_spinner=False, max_entries=32)
def _read_json(path: str, stamp: int):
    return json.loads(Path(path).read_text())


def model_meta(name: str) -> dict:
    return _read_json(*_stamp(resolve_model_dir(name) / "model.json"))


def eval_report(name: str) -> dict | None:
    p = resolve_model_dir(name) / "eval_test.json"
    return _read_json(*_stamp(p)) if p.is_file() else None


def history(name: str) -> list[dict] | None:
    p = resolve_model_dir(name) / "history.json"
    return _read_json(*_stamp(p)) if p.is_file() else None


class _WarmUp:
    """Imports torch, loads the default model and runs one dummy forward pass (the first
    one pays for oneDNN's set-up), then imports the CAM stack: seconds on a small CPU,
    done on a background thread started by the first page load so the page and its
    uploader render at once. Code that needs those modules waits on the matching event
    and only then imports them itself: no heavy module is imported by two threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.predictor_ready = threading.Event()
        self.saliency_ready = threading.Event()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pneumo-warm-up", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            from . import predictor  # noqa: F401  (torch)
        finally:
            self.predictor_ready.set()
        try:
            p = get_predictor(DEFAULT_MODEL)
            p.predict_radiographs([_blank_radiograph()], ["warm-up"])
        except Exception:  # noqa: BLE001 - the page that needs the model reports the failure
            pass
        try:
            from . import saliency  # noqa: F401  (pytorch-grad-cam, OpenCV)
        finally:
            self.saliency_ready.set()

    def wait(self, event: threading.Event) -> None:
        """Waits, but lets Streamlit stop or restart the script meanwhile (an upload
        while the page is still loading must not queue behind the imports)."""
        self.start()
        try:
            from streamlit.runtime.scriptrunner_utils.script_run_context import get_run_yield_check
            check = get_run_yield_check()
        except ImportError:  # not in this Streamlit version: a plain wait
            check = None
        while not event.wait(0.1):
            if check is not None:
                check()


def _blank_radiograph():
    from .ingest import Radiograph
    return Radiograph(pixels=np.full((256, 256), 0.5, np.float32), source_format="warm-up")


_WARM = _WarmUp()


def warm_up() -> None:
    """Called by the entrypoint on every run; starts the imports once per process."""
    _WARM.start()


@st.cache_resource(show_spinner="Loading the model…")
def _predictor(name: str, stamp: int):
    _WARM.wait(_WARM.predictor_ready)
    from .predictor import Predictor
    return Predictor(name)


def get_predictor(name: str):
    """One shared (thread-safe) Predictor per model and weights file."""
    return _predictor(name, _stamp(resolve_model_dir(name) / "model.pt")[1])


def saliency_methods() -> dict[str, tuple]:
    _WARM.wait(_WARM.saliency_ready)
    from .saliency import METHODS
    return METHODS


def _weights_stamp(model: str) -> int:
    return _stamp(resolve_model_dir(model) / "model.pt")[1]


@st.cache_data(show_spinner=False, max_entries=128)  # each entry holds a display copy of the image
def _score(model: str, weights: int, digest: str, name: str, _data: bytes) -> CaseResult:
    result = CaseResult(name=name, digest=digest, model=model)
    try:
        rad = load(_data, name=name)
    except IngestError as exc:
        result.error = str(exc)
        return result
    pred = get_predictor(model).predict_radiographs([rad], [name])[0]
    result.probability, result.warnings, result.ood_score = pred.probability, list(pred.warnings), pred.ood_score
    result.source_format, result.metadata = rad.source_format, dict(rad.metadata)
    result.display = to_display(rad.pixels)
    result.size = (int(rad.pixels.shape[1]), int(rad.pixels.shape[0]))
    return result


def score_file(model: str, data: bytes, name: str) -> CaseResult:
    """Cached on (model and its weights, content hash, name): reruns for a slider never
    re-score. A bad file comes back with `error` set, like `Predictor.predict_bytes`."""
    return _score(model, _weights_stamp(model), content_digest(data), name, data)


def case_report(result: CaseResult, s: "Settings", label: str, hm: "Heatmap", overlay: np.ndarray,
                fmt: str = "pdf") -> Callable[[], bytes]:
    """A callable rendering the case report, for `st.download_button(data=...)`: the PDF
    is drawn only when clicked, and matplotlib is imported only then."""
    def render() -> bytes:
        from .report import ReportCase, render_report
        case = ReportCase(file_name=result.name, probability=float(result.probability), label=label,
                          threshold=s.threshold, operating_point=s.operating_point, model=s.model,
                          image=result.display, overlay=overlay,
                          model_description=model_meta(s.model).get("description", ""),
                          method=method_label(hm.method), target_class=hm.target_class, heatmap_note=hm.note,
                          warnings=list(result.warnings), metadata=dict(result.metadata))
        return render_report(case, fmt)
    return render


def split_warnings(result: CaseResult) -> tuple[str | None, list[str]]:
    """(the out-of-distribution warning if raised, the other warnings): the app shows the
    first one prominently."""
    _WARM.wait(_WARM.predictor_ready)
    from .predictor import OOD_WARNING
    ood = next((w for w in result.warnings if w == OOD_WARNING), None)
    return ood, [w for w in result.warnings if w != OOD_WARNING]


@dataclass
class Heatmap:
    heatmap: np.ndarray  # float32 SxS in [0, 1], relative
    target_class: str
    method: str
    class_specific: bool
    note: str


@st.cache_data(show_spinner=False, max_entries=256)
def _heatmap(model: str, weights: int, digest: str, method: str, target: str, name: str, _data: bytes) -> Heatmap:
    _WARM.wait(_WARM.saliency_ready)
    from .saliency import explain
    rad = load(_data, name=name)
    exp = explain(get_predictor(model), rad, method=method, target=target)
    return Heatmap(np.asarray(exp.heatmap, np.float32), str(exp.target_class), str(exp.method),
                   bool(exp.class_specific), str(exp.note))


def heatmap_for(model: str, data: bytes, name: str, method: str, target: str) -> Heatmap:
    """Cached on (model, content hash, method, class explained); opacity is applied by
    `blend`, so the opacity slider never re-runs the CAM."""
    return _heatmap(model, _weights_stamp(model), content_digest(data), method, target, name, data)


@st.cache_data(show_spinner=False, max_entries=512)
def _display(digest: str, name: str, _data: bytes) -> np.ndarray:
    return to_display(load(_data, name=name).pixels)


def gallery_case(model: str, key: str, method: str, target: str, opacity: float) -> np.ndarray:
    """A test image (key from eval_test.json) with its heatmap blended in, both cached."""
    data = test_image_bytes(key)
    name = Path(key).name
    return blend(_display(content_digest(data), name, data), heatmap_for(model, data, name, method, target).heatmap,
                 opacity)


def stale_eval_warning(ev: dict, meta: dict, model: str) -> None:
    """Shows, on a page built from eval_test.json, why its numbers may be out of date."""
    problems = eval_consistency(ev, meta)
    if problems:
        st.warning("Test results may be out of date: " + "; ".join(problems) + ". Metrics at the current "
                   "threshold are recomputed from the stored per-image predictions; regenerate the file with "
                   f"`python -m pneumo_core evaluate --model {model}`.", icon=":material/history:")


def show_gallery(cases: list[dict], total: int, s: "Settings", empty: str, columns: int = 6) -> None:
    """A row of test cases with their heatmaps (explaining the class the model called),
    file name and probability under each."""
    if not cases:
        st.info(empty)
        return
    cols = st.columns(columns)
    for i, case in enumerate(cases):
        with cols[i % columns]:
            st.image(gallery_case(s.model, case["file"], s.method, case["called"], s.opacity), width="stretch")
            st.caption(f"{escape_markdown(Path(case['file']).name)}  \nP(pneumonia) "
                       f"{format_probability(case['probability'])}, called {case['called']}")
    if total > len(cases):
        st.caption(f"Showing the {len(cases)} most confident of {total}.")


def saliency_caveats(methods: dict | None = None) -> str:
    """Markdown bullet list: what the maps are and are not, per shipped method."""
    methods = saliency_methods() if methods is None else methods
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


# --- Streamlit: the shared sidebar ----------------------------------------------------
@dataclass(frozen=True)
class Settings:
    model: str
    operating_point: str  # a preset name from model.json, or "custom"
    threshold: float
    method: str  # a key of saliency.METHODS
    opacity: float


def _presets(model: str) -> dict[str, float]:
    return {k: float(v) for k, v in model_meta(model)["thresholds"].items()}


def _sync_slider() -> None:
    op, presets = st.session_state["op"], _presets(st.session_state["model"])
    if op in presets:
        st.session_state["threshold_slider"] = round(presets[op], 3)


def _to_custom() -> None:
    st.session_state["op"] = "custom"


def sidebar() -> Settings:
    """Draws the model and operating-point part of the sidebar every page shares and
    stores the choices in session state. The saliency controls come after the page
    (`sidebar_saliency`): they need the CAM stack, which must not delay the page."""
    models = list_models(WEIGHTS_DIR)
    ss = st.session_state
    if ss.get("model") not in models:
        ss["model"] = DEFAULT_MODEL if DEFAULT_MODEL in models else models[0]
    meta = model_meta(ss["model"])
    ss.setdefault("op", meta.get("default_threshold", "balanced"))
    ss.setdefault("threshold_slider", round(_presets(ss["model"]).get(ss["op"], 0.5), 3))
    ss.setdefault("method", "gradcam")
    ss.setdefault("opacity", 0.5)
    with st.sidebar:
        st.header("Settings")
        model = st.selectbox("Model", models, key="model", on_change=_sync_slider,
                             help="Both shipped models; each has its own validation-chosen thresholds.")
        meta = model_meta(model)
        st.caption(meta.get("description", ""))
        presets = _presets(model)
        rules = meta.get("threshold_rule", {})
        op = st.radio("Operating point", [*presets, "custom"], key="op", on_change=_sync_slider,
                      format_func=lambda o: f"{o} ({presets[o]:.3f})" if o in presets else "custom (slider)",
                      help="\n".join(f"- **{k}**: {v}" for k, v in rules.items()))
        slider = st.slider("Threshold: call PNEUMONIA when P(pneumonia) ≥", 0.0, 1.0, step=0.001, format="%.3f",
                           key="threshold_slider", on_change=_to_custom)
        threshold = presets[op] if op in presets else float(slider)
        if op in rules:
            st.caption(f"{op}: {rules[op]}")
    s = Settings(model, op, float(threshold), str(ss["method"]), float(ss["opacity"]))
    ss["settings"] = s
    return s


def method_label(method: str) -> str:
    """The display name of a saliency method key ("gradcam" -> "Grad-CAM")."""
    spec = saliency_methods().get(method)
    return spec.label if spec is not None else method


def sidebar_saliency() -> None:
    """The heatmap controls, drawn after the page (see `sidebar`); a change reruns the
    script and the page reads the new value from session state."""
    methods = saliency_methods()
    if st.session_state.get("method") not in methods:
        st.session_state["method"] = "gradcam" if "gradcam" in methods else next(iter(methods))
    with st.sidebar:
        st.divider()
        st.selectbox("Saliency method", list(methods), key="method", format_func=lambda m: methods[m].label,
                     help="Grad-CAM family: class-specific. EigenCAM: not class-specific.")
        st.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="opacity")
        st.divider()
        st.caption(DISCLAIMER)


def settings() -> Settings:
    """The sidebar's choices, for pages (the entrypoint draws the sidebar first)."""
    s = st.session_state.get("settings")
    if s is None:
        # Only on a server's very first run, when it opens a deep link (/evaluation): until
        # st.navigation has run once, Streamlit treats pages/ as legacy auto-discovered
        # pages and runs the page file without the entrypoint. st.navigation switches that
        # off for good; doing it here and rerunning gives this visitor the full app.
        try:
            from streamlit.runtime.pages_manager import PagesManager
            PagesManager.uses_pages_directory = False
        except ImportError:
            return sidebar()
        st.rerun()
    return s


# --- the two per-class pages share one layout; only their words differ -------------------------
_CLASS_PAGE_TEXT = {
    "NORMAL": dict(
        role="NORMAL taken as the positive class (its precision is the NPV, its recall the specificity); ",
        correct="Correctly cleared ({total}): called NORMAL, most confident first",
        correct_empty="No normal case is called NORMAL at this threshold.",
        error="False positives ({total}): over-called PNEUMONIA, most confident errors first",
        error_empty="No normal case is over-called at this threshold.",
        footer="looked, not a finding."),
    "PNEUMONIA": dict(
        role="PNEUMONIA taken as the positive class; ",
        correct="True positives ({total}): called PNEUMONIA, most confident first",
        correct_empty="No pneumonia case is called PNEUMONIA at this threshold.",
        error="False negatives ({total}): missed, called NORMAL, most confident errors first",
        error_empty="No pneumonia case is missed at this threshold.",
        footer="looked, not where the consolidation is."),
}


def class_page(cls: str) -> None:
    """How the model does on the test images of one true class, at the current threshold."""
    text = _CLASS_PAGE_TEXT[cls]
    s = settings()
    ev = eval_report(s.model)
    st.title(f"{cls} test cases")
    if ev is None:
        st.error(f"No test evaluation for this model. Run `python -m pneumo_core evaluate --model {s.model}`.")
        return
    stale_eval_warning(ev, model_meta(s.model), s.model)
    st.caption(f"Official test split, model {s.model}, threshold {s.threshold:.3f} ({s.operating_point}). "
               + text["role"] + "95% CIs by bootstrap.")
    table_col, hist_col = st.columns([1, 1.6])
    with table_col:
        st.subheader("Per-class metrics")
        st.dataframe(per_class_table(ev, cls, s.threshold), hide_index=True, width="stretch")
    hist_col.plotly_chart(probability_histogram(ev, cls, s.threshold), width="stretch")

    st.session_state.setdefault("gallery_n", 6)
    n = st.segmented_control("Cases per gallery", [3, 6, 12], key="gallery_n") or 6
    for kind in ("correct", "error"):
        cases, total = gallery(ev, cls, kind, s.threshold, n)
        st.subheader(text[kind].format(total=total))
        show_gallery(cases, total, s, text[f"{kind}_empty"])
    st.caption("Heatmaps explain the class the model called, scaled to their own maximum: they show where the model "
               + text["footer"])
