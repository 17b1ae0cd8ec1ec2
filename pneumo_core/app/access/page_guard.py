"""The first line of every page in `pages/`: `page_guard.entry()` (the PACS page names its role).

Why a page guards itself: while a folder named `pages/` sits beside the entrypoint, Streamlit
runs a deep-linked page file alone, without `streamlit_app.py` (so without the door,
`login.admit`, and without the sidebar), until some session of the server process has called
`st.navigation`: a cold server's first visit (Streamlit 1.67, `runtime/pages_manager.py`,
`scriptrunner/script_runner.py` `_mpa_v1`). AppTest resets that state before every run, so
there every run of a page is such a run.

The entrypoint marks the run in which its navigation runs a page (`entered`). A page run
without that mark hands the run over to the entrypoint: the entrypoint's script runs in its
place, in this same run (its door, its navigation, which then picks this page again if the
visitor may see it, its sidebar), and the page's own run stops there. A rerun through the
public `st.switch_page` would do the same but drop what started the run: a button press
(its trigger) is lost across a rerun, and every AppTest run of a page would lose its click.
Inside the entrypoint the guard checks the page's role itself, behind the navigation that
does not offer the page to others."""
from __future__ import annotations

import contextvars
import runpy
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from ..runtime.paths import ENTRYPOINT
from . import identity

__all__ = ["ENTRYPOINT", "entered", "entry", "inside_entrypoint"]

# set only while the entrypoint runs its navigation's page, in this script run: a run's own
# context, so neither another session's run nor this session's previous run can lend it
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("pneumo_inside_entrypoint", default=False)


@contextmanager
def entered() -> Iterator[None]:
    """Wraps the entrypoint's `navigation.run()`: the page it runs was reached through the door."""
    token = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(token)


def inside_entrypoint() -> bool:
    """Whether this run reached the page through the entrypoint's navigation."""
    return _INSIDE.get()


def entry(role: str = identity.READER, page: str = "") -> None:
    """Run the page only through the entrypoint, and only for a user who holds `role`.

    Run alone, the page shows nothing: the entrypoint's script runs in its place and the page's
    own run stops (`st.stop`). Inside, a user without `role` gets the "no access" line and the
    page stops (`identity.require_role`, with an audit record naming `page`)."""
    if not inside_entrypoint():
        runpy.run_path(str(ENTRYPOINT))
        st.stop()
    identity.require_role(role, page=page)
