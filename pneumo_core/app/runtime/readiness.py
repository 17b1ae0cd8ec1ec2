"""Whether the background warm-up has imported torch and the CAM stack yet, and the one way
for code to get those modules: wait for the warm-up's event, then import (`import_predictor`,
`import_saliency`), so no heavy module is imported by two threads at once. The warm-up itself
(`warmup`) registers how to start it; where none is registered (a library caller, a test that
imports the cached loaders alone) nothing runs in the background and the caller imports directly."""
from __future__ import annotations

import threading
from typing import Callable

import streamlit as st
from streamlit import runtime

__all__ = ["READY", "import_predictor", "import_saliency", "import_site"]

POLL_S = 0.1  # how long a stop or rerun may wait for the wait to notice it


class Readiness:
    """The warm-up's events, and waiting on them without blocking Streamlit's stop or rerun."""

    def __init__(self) -> None:
        self.predictor_ready = threading.Event()
        self.saliency_ready = threading.Event()
        self.done = threading.Event()
        self.start: Callable[[], None] | None = None  # set by `warmup`

    def wait(self, event: threading.Event) -> None:
        """Waits, but lets Streamlit stop or restart the script meanwhile (an upload
        while the page is still loading must not queue behind the imports).

        Streamlit acts on a stop or rerun request only where the script sends the browser
        something (its commands are its yield points), so every `POLL_S` the wait opens and
        closes an `st.spinner`: the close sends the spinner's clearing message, and Streamlit
        raises its stop or rerun there. A spinner appears only after half a second, so this
        one never shows, and it is not an element, so a cached loader waiting here (the
        model's, which shows its own spinner) records nothing to replay. Outside a Streamlit
        runtime (a library caller, a test) it is a plain wait."""
        if self.start is None:  # no warm-up in this process: nothing imports in the background
            return
        self.start()
        while not event.wait(POLL_S):
            if runtime.exists():
                with st.spinner("Waiting for the model to load"):
                    pass


READY = Readiness()


def import_predictor():
    """`pneumo_core.inference.predictor` (torch), once the warm-up thread has imported it."""
    READY.wait(READY.predictor_ready)
    from ...inference import predictor
    return predictor


def import_saliency():
    """`pneumo_core.inference.saliency` (pytorch-grad-cam, OpenCV), once the warm-up thread has imported it."""
    READY.wait(READY.saliency_ready)
    from ...inference import saliency
    return saliency


def import_site():
    """`pneumo_core.calibration.site`: numpy only, so the sidebar need not wait for torch."""
    from ...calibration import site
    return site
