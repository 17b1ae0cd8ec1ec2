"""Plotly figures for the "Calibrate for your site" page: reliability before and after the
site calibration, the sample's ROC with the profile's two operating points, and what the
site study says the estimates look like at each sample size.

"After" is always the sample's out-of-fold probability (each film scored by a fit on the
other patients), so a figure never flatters the profile with films it was fitted on.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ...stats.decision import calls_pneumonia
from ..review.figures import apply_layout  # one look for every figure in the app

__all__ = ["reliability_before_after", "site_roc_figure", "study_figure", "operating_point", "TICK_GAP"]

_COLOURS = {"before": "#7f7f7f", "after": "#1f5f8b", "balanced": "#1f77b4", "screening": "#d95f02",
            "accuracy": "#1f5f8b", "recall": "#d95f02", "specificity": "#2ca02c", "ece": "#7b3294"}
_STUDY_METRICS = {"accuracy": "accuracy", "recall": "sensitivity", "specificity": "specificity"}
_PROFILE_KEY = {"accuracy": "accuracy", "recall": "sensitivity", "specificity": "specificity", "ece": "ece"}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def reliability_before_after(labels: np.ndarray, before: np.ndarray, after: np.ndarray, n_bins: int = 10) -> go.Figure:
    """The model's own probability and the site-calibrated (out-of-fold) one, binned."""
    from ...stats.metrics import curves, expected_calibration_error
    y = np.asarray(labels, int)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"),
                    name="perfect calibration")
    for key, probs, name in (("before", before, "source (the model's own)"),
                             ("after", after, "site-calibrated, out of fold")):
        cal = curves(y, np.asarray(probs, float), n_bins=n_bins)["calibration"]
        ece = expected_calibration_error(y, probs, n_bins=n_bins)
        sizes = np.sqrt(np.asarray(cal["count"], float))
        fig.add_scatter(x=cal["mean_predicted"], y=cal["fraction_positive"], mode="lines+markers",
                        name=f"{name}: ECE {ece:.3f}",
                        line=dict(color=_COLOURS[key], dash="dash" if key == "before" else "solid"),
                        marker=dict(size=6 + 18 * sizes / max(sizes.max(), 1)), customdata=cal["count"],
                        hovertemplate="mean predicted %{x:.2f}, observed %{y:.2f}, n=%{customdata}")
    return apply_layout(fig, f"Reliability on your sample ({y.size} films, {n_bins} bins)", "Mean predicted P(pneumonia)",
                   "Observed fraction with pneumonia", square=True)


def operating_point(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    """False-positive rate and sensitivity when PNEUMONIA is called at P >= threshold."""
    y, call = np.asarray(labels, int), calls_pneumonia(probs, threshold)
    return {"fpr": float(call[y == 0].mean()), "tpr": float(call[y == 1].mean())}


def site_roc_figure(labels: np.ndarray, probs: np.ndarray, thresholds: dict[str, float]) -> go.Figure:
    """ROC of the sample's out-of-fold probabilities, with each named threshold marked."""
    from sklearn.metrics import roc_auc_score, roc_curve
    y, p = np.asarray(labels, int), np.asarray(probs, float)
    fpr, tpr, thr = roc_curve(y, p)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"), name="chance")
    fig.add_scatter(x=fpr, y=tpr, mode="lines", name=f"ROC (AUC {roc_auc_score(y, p):.3f})",
                    line=dict(color=_COLOURS["after"]), customdata=np.minimum(thr, 1.0),
                    hovertemplate="1-spec %{x:.3f}, sens %{y:.3f}, t=%{customdata:.3f}")
    for name, t in thresholds.items():
        op = operating_point(y, p, t)
        fig.add_scatter(x=[op["fpr"]], y=[op["tpr"]], mode="markers", name=f"{name} ({t:.3f})",
                        marker=dict(symbol="circle-open" if name == "balanced" else "diamond-open", size=13,
                                    line=dict(width=3), color=_COLOURS.get(name, "#444444")),
                        hovertemplate=f"{name}: 1-spec %{{x:.3f}}, sens %{{y:.3f}}<extra></extra>")
    return apply_layout(fig, "ROC on your sample (out-of-fold probabilities)", "1 − specificity (false-positive rate)",
                   "Sensitivity", square=True)


def _band(fig: go.Figure, xs: list[int], rows: list[dict], name: str, colour: str, col: int) -> None:
    lo, hi = [r["p2_5"] for r in rows], [r["p97_5"] for r in rows]
    fig.add_scatter(x=xs + xs[::-1], y=hi + lo[::-1], mode="lines", fill="toself", fillcolor=_rgba(colour, 0.15),
                    line=dict(width=0), hoverinfo="skip", showlegend=False, row=1, col=col)
    fig.add_scatter(x=xs, y=[r["mean"] for r in rows], mode="lines+markers", name=f"{name}: study mean, 95% range",
                    line=dict(color=colour), customdata=np.stack([lo, hi], axis=1),
                    hovertemplate=f"n=%{{x}}: {name} %{{y:.3f}} (95% of draws %{{customdata[0]:.3f}}–"
                                  "%{customdata[1]:.3f})<extra></extra>", row=1, col=col)


TICK_GAP = 1.35  # on the log axis, labels of sizes closer than this ratio print on top of each other


def _ticks(sizes: list[int], n: int | None) -> list[int]:
    """The study's sizes and the sample's own size as x ticks, leaving out a study size too
    close to the sample's to print beside it (its band and markers stay)."""
    if not n:
        return sorted(sizes)
    return sorted({n, *(x for x in sizes if max(x, n) / min(x, n) >= TICK_GAP)})


def study_figure(study: dict, estimates: dict | None = None, n: int | None = None) -> go.Figure:
    """The site study (`site_study_test.json`): each estimate against the sample size, its
    mean and the range holding 95% of the draws; with `estimates` (a profile's) and `n`, the
    sample's own cross-fitted estimates and intervals at its size."""
    from plotly.subplots import make_subplots
    sizes = sorted(study["sizes"], key=int)
    xs = [int(s) for s in sizes]
    fig = make_subplots(rows=1, cols=2,
                        subplot_titles=("Accuracy, sensitivity, specificity", "Calibration error (ECE)"))
    for i, (key, name) in enumerate((*_STUDY_METRICS.items(), ("ece", "ECE"))):
        col = 2 if key == "ece" else 1
        _band(fig, xs, [study["sizes"][s][key] for s in sizes], name, _COLOURS[key], col)
        if estimates is not None and n is not None and _PROFILE_KEY[key] in estimates:
            e = estimates[_PROFILE_KEY[key]]
            dodge = 1.0 if key == "ece" else 1.05 ** (i - 1)  # side by side on the log axis, not on top of each other
            fig.add_scatter(x=[n * dodge], y=[e["value"]], mode="markers", name=f"{name}: your sample",
                            marker=dict(symbol="x", size=12, color=_COLOURS[key]),
                            error_y=dict(type="data", symmetric=False, array=[max(e["ci_high"] - e["value"], 0)],
                                         arrayminus=[max(e["value"] - e["ci_low"], 0)]),
                            hovertemplate=f"your {n} films: {name} %{{y:.3f}}<extra></extra>", row=1, col=col)
    if n is not None:
        for col in (1, 2):
            fig.add_vline(x=n, line_dash="dash", line_color="#888888", row=1, col=col)
    fig.update_xaxes(type="log", title_text="films in the site sample", tickvals=_ticks(xs, n))
    fig.update_layout(template="plotly_white", height=420, margin=dict(l=60, r=20, t=60, b=50),
                      legend=dict(orientation="h", y=-0.3),
                      title=f"What the protocol gives by sample size ({study.get('split', 'test')} split, "
                            f"{study.get('repeats', '?')} draws per size)")
    return fig
