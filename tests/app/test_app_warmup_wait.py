"""Tests for pneumo_core.app.runtime.readiness: a page waiting for the warm-up still lets
Streamlit stop or rerun it, with public Streamlit API only, and a cached loader that waited
replays nothing on the page afterwards. Driven by AppTest on small scripts of their own."""
from __future__ import annotations

import threading
import time

from streamlit.testing.v1 import AppTest

from pneumo_core.app.runtime import readiness


def _waits_forever() -> None:
    import threading

    import streamlit as st

    from pneumo_core.app.runtime.readiness import Readiness
    ready = Readiness()
    ready.start = lambda: None  # a warm-up that never finishes
    st.write("before")
    ready.wait(threading.Event())
    st.write("after")


def _waits_in_a_cached_loader() -> None:
    import threading

    import streamlit as st

    from pneumo_core.app.runtime.readiness import Readiness

    @st.cache_resource
    def load() -> str:
        ready, event = Readiness(), threading.Event()
        ready.start = lambda: None
        threading.Timer(0.5, event.set).start()  # the warm-up finishes half a second later
        ready.wait(event)
        return "loaded"

    st.write(load())


def test_a_stop_requested_while_a_page_waits_for_the_warm_up_ends_the_wait():
    at = AppTest.from_function(_waits_forever, default_timeout=1)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            at.run()  # on its timeout AppTest asks the script to stop, then waits for it to end
        except BaseException as e:  # noqa: BLE001 - the outcome is what the test reads
            outcome.append(e)

    t0 = time.monotonic()
    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(30)
    assert not runner.is_alive(), "the wait ignored Streamlit's stop request"
    assert time.monotonic() - t0 < 10
    assert outcome and "timed out" in str(outcome[0])


def test_a_cached_loader_that_waited_leaves_nothing_on_the_page_to_replay():
    at = AppTest.from_function(_waits_in_a_cached_loader, default_timeout=30).run()
    assert not at.exception and [m.value for m in at.markdown] == ["loaded"]
    at.run()  # a cache hit: only the elements recorded inside the loader are replayed
    assert not at.exception and [m.value for m in at.markdown] == ["loaded"] and len(at.main.children) == 1


def test_without_a_warm_up_the_wait_returns_at_once():
    ready = readiness.Readiness()
    t0 = time.monotonic()
    ready.wait(threading.Event())  # never set: no warm-up registered, nothing imports in the background
    assert time.monotonic() - t0 < 0.05
