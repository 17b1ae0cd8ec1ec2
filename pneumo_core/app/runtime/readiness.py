"""Whether the background warm-up has imported torch and the CAM stack yet, and the one way
for code to get those modules: wait for the warm-up's event, then import (`import_predictor`,
`import_saliency`), so no heavy module is imported by two threads at once. The warm-up itself
(`warmup`) registers how to start it; where none is registered (a library caller, a test that
imports the cached loaders alone) nothing runs in the background and the caller imports directly."""
from __future__ import annotations

import threading
from typing import Callable

__all__ = ["READY", "import_predictor", "import_saliency", "import_site"]


class Readiness:
    """The warm-up's events, and waiting on them without blocking Streamlit's stop or rerun."""

    def __init__(self) -> None:
        self.predictor_ready = threading.Event()
        self.saliency_ready = threading.Event()
        self.done = threading.Event()
        self.start: Callable[[], None] | None = None  # set by `warmup`

    def wait(self, event: threading.Event) -> None:
        """Waits, but lets Streamlit stop or restart the script meanwhile (an upload
        while the page is still loading must not queue behind the imports)."""
        if self.start is None:  # no warm-up in this process: nothing imports in the background
            return
        self.start()
        try:
            from streamlit.runtime.scriptrunner_utils.script_run_context import get_run_yield_check
            check = get_run_yield_check()
        except ImportError:  # not in this Streamlit version: a plain wait
            check = None
        while not event.wait(0.1):
            if check is not None:
                check()


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
