"""The reading-room viewer: one film at full resolution with zoom and pan, a display
window/level, the heatmap as an overlay or side by side, and a full-screen view.

Plotly's image trace (`px.imshow(..., binary_string=True)`) serves the zoom and pan: it is
already a dependency (the evaluation figures), it sends the film as one PNG, and its
modebar, box zoom, scroll zoom and double-click reset need no custom component. Side by
side is one figure with two panels whose axes are matched, so a zoom on either moves both.
The full-screen view is an `st.dialog` as wide as the window, and every chart also keeps
Streamlit's own fullscreen button (its toolbar, on hover).

Window/level changes the pixels sent to the browser only: the model scored the film as
uploaded, and nothing here reaches it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from ...io.overlay import render_overlay

__all__ = ["VIEWS", "Display", "window_level", "film_figure", "display_controls", "show_film", "full_view"]

VIEWS = ("film", "overlay", "side by side")
_CONFIG = {"scrollZoom": True, "displaylogo": False, "modeBarButtonsToRemove": ["toImage", "select2d", "lasso2d"]}


@dataclass(frozen=True)
class Display:
    """The reader's display choices: grey level at the middle of the window, the window's
    width (both in 0-255 display units), the view and the heatmap's opacity."""
    level: int = 128
    width: int = 256
    view: str = "overlay"
    opacity: float = 0.5


def window_level(film: np.ndarray, level: float, width: float) -> np.ndarray:
    """uint8 grey film -> uint8 display copy: `width` grey levels from `level - width/2` show
    black to white, linear between, the rest clipped (the radiologist's window/level, on
    the display copy). Level 128, width 256 is the film as it is."""
    width = max(float(width), 2.0)
    lut = np.clip(np.rint((np.arange(256, dtype=np.float32) - (level - width / 2)) * 255 / (width - 1)), 0, 255)
    return lut.astype(np.uint8)[np.asarray(film, np.uint8)]


def film_figure(film: np.ndarray, heatmap: np.ndarray | None, display: Display, height: int = 560,
                target_class: str = "PNEUMONIA", dimmed: bool = False) -> go.Figure:
    """The film after window/level, with the heatmap as `display.view` asks (the film alone
    without a heatmap), drawn for the class it explains (`io.overlay`: never red on a NORMAL
    call) and dimmed when it failed its check. A zoom in one panel of a side-by-side view
    moves the other."""
    shown = window_level(film, display.level, display.width)
    view = display.view if heatmap is not None else "film"
    if view == "film":
        fig = px.imshow(shown, binary_string=True)
    else:
        overlay = render_overlay(shown, heatmap, display.opacity, target_class, dimmed)
        if view == "overlay":
            fig = px.imshow(overlay, binary_string=True)
        else:
            fig = px.imshow(np.stack([np.repeat(shown[..., None], 3, axis=2), overlay]), binary_string=True,
                            facet_col=0, facet_col_spacing=0.01)
            for a, title in zip(fig.layout.annotations, ("film", "heatmap")):
                a.text = title
            fig.update_xaxes(matches="x")
            fig.update_yaxes(matches="y")
    fig.update_xaxes(showticklabels=False, showgrid=False, ticks="", showline=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, ticks="", showline=False, zeroline=False)
    if view == "side by side":  # two panels side by side need less height for the same width
        height = int(height * 0.7)
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=24 if view == "side by side" else 0, b=0),
                      dragmode="pan", hovermode=False)
    return fig


def display_controls(key: str, opacity: float, heatmap: bool = True) -> Display:
    """Window/level sliders and the view choice, kept in session state under `key`, so a
    reader who sets a window keeps it while stepping through the batch."""
    ss = st.session_state
    ss.setdefault(f"{key}_level", 128)
    ss.setdefault(f"{key}_width", 256)
    ss.setdefault(f"{key}_view", VIEWS[1] if heatmap else VIEWS[0])
    left, mid, right = st.columns([1, 1, 1.5])
    level = left.slider("Level (brightness)", 0, 255, key=f"{key}_level",
                        help="The grey level shown mid-grey. Changes the display only; the film is scored as uploaded.")
    width = mid.slider("Window (contrast)", 2, 256, key=f"{key}_width",
                       help="How many grey levels span black to white: narrower is more contrast. Display only.")
    view = VIEWS[0]
    if heatmap:
        view = right.segmented_control("Heatmap", VIEWS, key=f"{key}_view",
                                       help="film: the film alone; overlay: the heatmap over it; side by side: both, "
                                            "zooming together.") or VIEWS[0]
    return Display(int(level), int(width), view, float(opacity))


def show_film(film: np.ndarray, heatmap: np.ndarray | None, display: Display, key: str, height: int = 560,
              target_class: str = "PNEUMONIA", dimmed: bool = False) -> None:
    """The zoomable film (drag to pan, scroll or the modebar to zoom, double-click to reset)."""
    st.plotly_chart(film_figure(film, heatmap, display, height, target_class, dimmed), width="stretch", config=_CONFIG,
                    key=key)


@st.dialog("Full view", width=1800)  # pixels; the browser caps a dialog at the window's width
def full_view(film: np.ndarray, heatmap: np.ndarray | None, display: Display, title: str,
              target_class: str = "PNEUMONIA", dimmed: bool = False) -> None:
    """The film in a dialog as wide as the window, with the same display choices."""
    st.text(title)
    show_film(film, heatmap, display, key="full_view_chart", height=780, target_class=target_class, dimmed=dimmed)
    st.caption("Drag to pan, scroll to zoom, double-click to reset. Display only: the film is scored as uploaded.")
