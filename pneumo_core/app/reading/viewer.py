"""The reading-room viewer: one film at full resolution with zoom and pan, a display
window/level (with presets, reset and invert), the heatmap as an overlay or side by side,
keyboard shortcuts, and a full view.

Plotly's image trace (`px.imshow(..., binary_string=True)`) serves the zoom and pan: it is
already a dependency (the evaluation figures), it sends the film as one PNG, and its
modebar, box zoom, scroll zoom and double-click reset need no custom component. Side by
side is one figure with two panels whose axes are matched, so a zoom on either moves both.
Plotly has no drag-to-window mode (its drag modes are zoom, pan and selections) and
Streamlit none either: window/level is set with the sliders and the presets, while a drag on
the film pans. The keys are Streamlit's own button shortcuts (`st.button(shortcut=...)`),
listed on the page; nothing is loaded from another host.

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

__all__ = ["VIEWS", "PRESETS", "KEYS", "Display", "window_level", "film_figure", "display_controls", "keys_caption",
           "seed_from", "show_film", "full_view"]

VIEWS = ("film", "overlay", "side by side")
# (level, window) in 0-255 display units; the level is the brightness (the window's centre is 256 - level).
# An 8-bit chest film keeps aerated lung in its dark half and the mediastinum in its bright half.
PRESETS: dict[str, tuple[int, int]] = {"default": (128, 256), "lung": (176, 160), "mediastinum": (86, 140)}
# Streamlit's shortcut keys ("R" and "C" are its own); letters, so a focused slider's arrow keys never step the case
KEYS = {"next": "N", "previous": "P", "reset": "0", "invert": "I", "heatmap": "H",
        "default": "1", "lung": "2", "mediastinum": "3"}
_CONFIG = {"scrollZoom": True, "displaylogo": False, "modeBarButtonsToRemove": ["toImage", "select2d", "lasso2d"]}


@dataclass(frozen=True)
class Display:
    """The reader's display choices: the level as brightness (higher is brighter; the
    window's centre is `256 - level`), the window's width (both in 0-255 display units),
    the view, the heatmap's opacity and whether the greys are inverted."""
    level: int = 128
    width: int = 256
    view: str = "overlay"
    opacity: float = 0.5
    invert: bool = False

    @property
    def centre(self) -> int:
        """The grey level shown mid-grey: raising the brightness lowers it, so the film brightens."""
        return 256 - self.level


def window_level(film: np.ndarray, centre: float, width: float, invert: bool = False) -> np.ndarray:
    """uint8 grey film -> uint8 display copy: `width` grey levels from `centre - width/2` show
    black to white, linear between, the rest clipped (the radiologist's window/level, on
    the display copy), then black and white swapped when `invert`. Centre 128, width 256 is
    the film as it is."""
    width = max(float(width), 2.0)
    lut = np.clip(np.rint((np.arange(256, dtype=np.float32) - (centre - width / 2)) * 255 / (width - 1)), 0, 255)
    lut = lut.astype(np.uint8)
    return (255 - lut if invert else lut)[np.asarray(film, np.uint8)]


def film_figure(film: np.ndarray, heatmap: np.ndarray | None, display: Display, height: int = 560,
                target_class: str = "PNEUMONIA", dimmed: bool = False) -> go.Figure:
    """The film after window/level, with the heatmap as `display.view` asks (the film alone
    without a heatmap), drawn for the class it explains (`io.overlay`: never red on a NORMAL
    call) and dimmed when it failed its check. A zoom in one panel of a side-by-side view
    moves the other."""
    shown = window_level(film, display.centre, display.width, display.invert)
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


def _set(key: str, level: int, width: int, invert: bool | None = None) -> None:
    ss = st.session_state
    ss[f"{key}_level"], ss[f"{key}_width"] = level, width
    if invert is not None:
        ss[f"{key}_invert"] = invert


def _reset(key: str) -> None:
    """Back to the film as scored: the default window, not inverted."""
    _set(key, *PRESETS["default"], invert=False)


def _toggle_invert(key: str) -> None:
    st.session_state[f"{key}_invert"] = not st.session_state.get(f"{key}_invert", False)


def _toggle_heatmap(key: str) -> None:
    """Heatmap off (the film alone), or back on in the view the reader had chosen."""
    ss = st.session_state
    view = ss.get(f"{key}_view") or VIEWS[0]
    if view == VIEWS[0]:
        ss[f"{key}_view"] = ss.get(f"{key}_view_on", VIEWS[1])
    else:
        ss[f"{key}_view_on"], ss[f"{key}_view"] = view, VIEWS[0]


def seed_from(key: str, source: str) -> None:
    """Give the controls under `key` the choices made under `source` (the full view opens with
    the page's window, level, inversion and view)."""
    ss = st.session_state
    for part in ("level", "width", "invert", "view"):
        if f"{source}_{part}" in ss:
            ss[f"{key}_{part}"] = ss[f"{source}_{part}"]


def display_controls(key: str, opacity: float, heatmap: bool = True, shortcuts: bool = False) -> Display:
    """Window/level sliders, presets, reset, invert and the view choice, kept in session state
    under `key`, so a reader who sets a window keeps it while stepping through the batch.
    Drawn for a narrow column (the film has the width). With `shortcuts`, the buttons answer
    the keys in `KEYS` (only one set of controls on a page may)."""
    ss = st.session_state
    ss.setdefault(f"{key}_level", PRESETS["default"][0])
    ss.setdefault(f"{key}_width", PRESETS["default"][1])
    ss.setdefault(f"{key}_invert", False)
    ss.setdefault(f"{key}_view", VIEWS[1] if heatmap else VIEWS[0])
    keys = KEYS if shortcuts else {}
    left, right = st.columns(2)
    level = left.slider("Level (brightness)", 0, 255, key=f"{key}_level",
                        help="Higher is brighter: the grey level shown mid-grey is 256 minus this. Changes the "
                             "display only; the film is scored as uploaded.")
    width = right.slider("Window (contrast)", 2, 256, key=f"{key}_width",
                         help="How many grey levels span black to white: narrower is more contrast. Display only.")
    with st.container(horizontal=True, gap="small"):
        for name, (lvl, wid) in PRESETS.items():
            st.button(name.capitalize(), key=f"{key}_preset_{name}", on_click=_set, args=(key, lvl, wid),
                      shortcut=keys.get(name), help=f"Level {lvl}, window {wid}.")
    with st.container(horizontal=True, gap="small"):
        st.button("Reset", key=f"{key}_reset", on_click=_reset, args=(key,), shortcut=keys.get("reset"),
                  help="Back to the film as scored: default window, not inverted.")
        st.button("Invert", key=f"{key}_invert_button", on_click=_toggle_invert, args=(key,),
                  type="primary" if ss[f"{key}_invert"] else "secondary", shortcut=keys.get("invert"),
                  help="Swap black and white (display only).")
        if heatmap:
            st.button("Heatmap on/off", key=f"{key}_heatmap_button", on_click=_toggle_heatmap, args=(key,),
                      shortcut=keys.get("heatmap"))
    view = VIEWS[0]
    if heatmap:
        view = st.segmented_control("Heatmap", VIEWS, key=f"{key}_view",
                                    help="film: the film alone; overlay: the heatmap over it; side by side: both, "
                                         "zooming together.") or VIEWS[0]
    return Display(int(level), int(width), view, float(opacity), bool(ss[f"{key}_invert"]))


def keys_caption(heatmap: bool = True) -> str:
    """The keyboard shortcuts, as the page lists them."""
    k = KEYS
    parts = [f"{k['next']} next case", f"{k['previous']} previous case", f"{k['reset']} reset window/level",
             f"{k['invert']} invert"] + ([f"{k['heatmap']} heatmap on/off"] if heatmap else []) + \
            [f"{k['default']}/{k['lung']}/{k['mediastinum']} default, lung, mediastinum window"]
    return ("Keys: " + " · ".join(parts) + ". On the film: drag to pan, scroll to zoom, double-click to reset the "
            "zoom (a drag cannot set the window here: use the sliders or presets).")


def show_film(film: np.ndarray, heatmap: np.ndarray | None, display: Display, key: str, height: int = 560,
              target_class: str = "PNEUMONIA", dimmed: bool = False) -> None:
    """The zoomable film (drag to pan, scroll or the modebar to zoom, double-click to reset)."""
    st.plotly_chart(film_figure(film, heatmap, display, height, target_class, dimmed), width="stretch", config=_CONFIG,
                    key=key)


@st.dialog("Full view", width=1800)  # pixels; the browser caps a dialog at the window's width
def full_view(film: np.ndarray, heatmap: np.ndarray | None, opacity: float, title: str, call: str,
              target_class: str = "PNEUMONIA", dimmed: bool = False) -> None:
    """The film as large as the window allows, its call and P beside it (`call`, markdown), and
    window/level of its own (opened with the page's: `seed_from`)."""
    film_col, side_col = st.columns([3, 1])
    with side_col:
        st.text(title)
        st.markdown(call)
        display = display_controls("full_viewer", opacity, heatmap=heatmap is not None)
        st.caption("Drag to pan, scroll to zoom, double-click to reset. Display only: the film is scored as uploaded. "
                   "The keys act on the page: close this view to use them.")
    with film_col:
        show_film(film, heatmap, display, key="full_view_chart", height=720, target_class=target_class, dimmed=dimmed)
