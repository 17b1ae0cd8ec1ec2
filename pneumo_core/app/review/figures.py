"""Plotly figures for the evaluation pages; the pages only place them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from ...data.dataset import CLASSES
from .eval_views import eval_arrays, operating_point
from ..runtime.formatting import preset_groups, preset_label

if TYPE_CHECKING:
    from ...models.metadata import ModelMetadata

__all__ = ["apply_layout", "roc_figure", "pr_figure", "confusion_figure", "reliability_figure", "learning_figure",
    "probability_histogram", "comparison_roc_figure"]

_COLOURS = {"NORMAL": "#1f77b4", "PNEUMONIA": "#d95f02", "threshold": "#444444"}


def apply_layout(fig: go.Figure, title: str, x_title: str, y_title: str, square: bool = False) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, template="plotly_white", height=420,
                      margin=dict(l=60, r=20, t=60, b=50), legend=dict(orientation="h", y=-0.2))
    if square:
        fig.update_xaxes(range=[-0.01, 1.01], constrain="domain")
        fig.update_yaxes(range=[-0.01, 1.01], scaleanchor="x", scaleratio=1)
    return fig


def roc_figure(evaluation: dict, threshold: float, meta: ModelMetadata | None = None) -> go.Figure:
    """ROC with the current threshold (cross) and the presets (circles; from model.json
    when given, as the sidebar offers them, else from the evaluation file; presets that
    coincide are one circle naming both)."""
    roc = evaluation["curves"]["roc"]
    auc = next(iter(evaluation["metrics"].values()))["roc_auc"]
    point = operating_point(evaluation, threshold)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"), name="chance")
    fig.add_scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"ROC (AUC {auc['value']:.3f})",
                    customdata=roc["threshold"], hovertemplate="1-spec %{x:.3f}, sens %{y:.3f}, t=%{customdata:.3f}")
    values = {k: float(v) for k, v in (meta.thresholds if meta is not None else evaluation["thresholds"]).items()}
    groups = preset_groups(values, meta.default_threshold if meta is not None else None)
    for name in groups:
        p = operating_point(evaluation, values[name])
        fig.add_scatter(x=[p["fpr"]], y=[p["tpr"]], mode="markers", name=f"preset {preset_label(name, values, groups)}",
                        marker=dict(symbol="circle-open", size=11, line=dict(width=2)))
    fig.add_scatter(x=[point["fpr"]], y=[point["tpr"]], mode="markers", name=f"current threshold ({threshold:.3f})",
                    marker=dict(symbol="x", size=13, color="black"))
    return apply_layout(fig, "ROC curve (test split)", "1 − specificity (false-positive rate)", "Sensitivity", square=True)


def pr_figure(evaluation: dict, threshold: float) -> go.Figure:
    pr = evaluation["curves"]["pr"]
    ap = next(iter(evaluation["metrics"].values()))["average_precision"]
    point = operating_point(evaluation, threshold)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[evaluation["prevalence"]] * 2, mode="lines", line=dict(dash="dot", color="#bbbbbb"),
                    name=f"test prevalence ({evaluation['prevalence']:.1%})")
    fig.add_scatter(x=pr["recall"], y=pr["precision"], mode="lines", name=f"PR (AP {ap['value']:.3f})",
                    customdata=pr["threshold"], hovertemplate="sens %{x:.3f}, PPV %{y:.3f}, t=%{customdata:.3f}")
    fig.add_scatter(x=[point["recall"]], y=[point["precision"]], mode="markers",
                    name=f"current threshold ({threshold:.3f})",
                    marker=dict(symbol="x", size=13, color="black"))
    return apply_layout(fig, "Precision–recall curve (test split)", "Sensitivity (recall)", "PPV (precision)", square=True)


def confusion_figure(matrix: np.ndarray, threshold: float) -> go.Figure:
    """Counts, rows = reference label, columns = the call at `threshold` (in the hover)."""
    names = list(CLASSES)
    fig = px.imshow(np.asarray(matrix), text_auto=True, color_continuous_scale="Blues", aspect="equal",
                    x=[f"called {c}" for c in names], y=[f"truly {c}" for c in names],
                    labels=dict(x="Model call", y="Reference label", color="images"))
    fig.update_traces(textfont_size=22, hovertemplate=f"%{{y}}, %{{x}} at threshold {threshold:.3f}: %{{z}} images"
                      "<extra></extra>")
    fig.update_layout(height=360, margin=dict(l=60, r=20, t=20, b=40), coloraxis_showscale=False)
    return fig


def reliability_figure(evaluation: dict) -> go.Figure:
    cal = evaluation["curves"]["calibration"]
    m = next(iter(evaluation["metrics"].values()))
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"), name="perfect calibration")
    sizes = np.sqrt(np.asarray(cal["count"], float))
    fig.add_scatter(x=cal["mean_predicted"], y=cal["fraction_positive"], mode="lines+markers", name="model (10 bins)",
                    marker=dict(size=6 + 24 * sizes / max(sizes.max(), 1)), customdata=cal["count"],
                    hovertemplate="mean predicted %{x:.2f}, observed %{y:.2f}, n=%{customdata}")
    title = f"Reliability (test split): ECE {m['ece']['value']:.3f}, Brier {m['brier']['value']:.3f}"
    return apply_layout(fig, title, "Mean predicted P(pneumonia)", "Observed fraction with pneumonia", square=True)


def learning_figure(hist: list[dict], best_epoch: int | None = None) -> go.Figure:
    """Training curves (for engineers: the model card shows them). Train figures come from
    augmented batches, dotted; validation solid."""
    from plotly.subplots import make_subplots
    ep = [h["epoch"] for h in hist]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy and AUC"))  # short: a long title is cut off
    fig.add_scatter(x=ep, y=[h["train_loss"] for h in hist], name="train loss", row=1, col=1)
    fig.add_scatter(x=ep, y=[h["val_loss"] for h in hist], name="validation loss", row=1, col=1)
    for key, name in (("train_accuracy", "train accuracy"), ("val_accuracy", "validation accuracy"),
                      ("train_auc", "train AUC"), ("val_auc", "validation AUC")):
        if any(h.get(key) is not None for h in hist):  # train AUC is missing from histories older than it
            fig.add_scatter(x=ep, y=[h.get(key) for h in hist], name=name, row=1, col=2,
                            line=dict(dash="dot" if key.startswith("train") else "solid"))
    if best_epoch is not None:
        for col in (1, 2):
            fig.add_vline(x=best_epoch, line_dash="dash", line_color="#888888", row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template="plotly_white", height=380, margin=dict(l=60, r=20, t=60, b=50),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def probability_histogram(evaluation: dict, cls: str, threshold: float,
                          calibration: str = "calibrated on validation data") -> go.Figure:
    """One true class's probabilities, `calibration` saying what they are calibrated on."""
    labels, probs, _ = eval_arrays(evaluation)
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
    return apply_layout(fig, f"P(pneumonia), {p.size} truly {cls} test images (correct: {side} the line)",
                   f"P(pneumonia), {calibration}", "images (log scale)")


def comparison_roc_figure(reports: dict[str, dict], current: str, zoom: bool = False) -> go.Figure:
    """Both models' ROC curves; `zoom` shows the top-left corner where operating points live."""
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"), name="chance")
    for name, evaluation in reports.items():
        auc = next(iter(evaluation["metrics"].values()))["roc_auc"]["value"]
        fig.add_scatter(x=evaluation["curves"]["roc"]["fpr"], y=evaluation["curves"]["roc"]["tpr"], mode="lines",
                        name=f"{name} (AUC {auc:.3f})", line=dict(width=3 if name == current else 1.5))
    if zoom:
        apply_layout(fig, "Top-left corner, zoomed", "1 − specificity", "Sensitivity")
        fig.update_xaxes(range=[0, 0.5])
        return fig.update_yaxes(range=[0.8, 1.005])
    return apply_layout(fig, "ROC, both models (test split)", "1 − specificity", "Sensitivity", square=True)
