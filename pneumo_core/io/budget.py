"""How much one session may hand the server, and how much heavy work runs at once.

`UploadBudget`: the files and bytes a session's uploaders may hold for scoring (the Diagnose
page and the site-calibration page); files beyond it are not read, in upload order, so what
was already scored stays. `heavy_work`: a process-wide limit on concurrent decodes and
heatmaps, so many sessions (or one with many tabs) queue instead of exhausting memory or
cores; a caller that waits too long gets `ServerBusy`, not a hang.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, MutableMapping, Sequence

__all__ = ["HEAVY_WORKERS", "HEAVY_WAIT_SECONDS", "MAX_SESSION_FILES", "MAX_SESSION_BYTES", "ServerBusy",
           "heavy_work", "UploadBudget", "session_budget"]

HEAVY_WORKERS = max(1, min(4, os.cpu_count() or 1))  # one per core, up to 4: each may hold a 50 MP film
HEAVY_WAIT_SECONDS = 120.0
MAX_SESSION_FILES = 600  # a site sample of ~100-300 films per class, or a day's batch
MAX_SESSION_BYTES = 2 * 2**30  # what one session's uploads may hold; the server keeps them in memory
_SESSION_KEY = "_upload_budget"

_HEAVY = threading.BoundedSemaphore(HEAVY_WORKERS)


class ServerBusy(RuntimeError):
    """Too much heavy work already running; the message is for the user."""


@contextmanager
def heavy_work(timeout: float = HEAVY_WAIT_SECONDS) -> Iterator[None]:
    """Hold one of `HEAVY_WORKERS` slots for a decode or a heatmap (blocks; `ServerBusy` after `timeout`)."""
    if not _HEAVY.acquire(timeout=timeout):
        raise ServerBusy("the server is busy with other films; try again in a minute")
    try:
        yield
    finally:
        _HEAVY.release()


@dataclass
class UploadBudget:
    """Files and bytes held by one session's uploaders, per (page, uploader)."""
    max_files: int = MAX_SESSION_FILES
    max_bytes: int = MAX_SESSION_BYTES
    held: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def admit(self, page: str, source: str, sizes: Sequence[int]) -> tuple[int, str | None]:
        """How many of `sizes` (one uploader's files, in upload order) fit beside what the
        page's other uploaders hold, and the message to show when some do not."""
        self.held = {k: v for k, v in self.held.items() if k[0] == page}  # another page's uploads are gone
        self.held.pop((page, source), None)
        files = sum(n for n, _ in self.held.values())
        used = sum(b for _, b in self.held.values())
        n = 0
        for size in sizes:
            if files + n + 1 > self.max_files or used + size > self.max_bytes:
                break
            n, used = n + 1, used + size
        self.held[(page, source)] = (n, sum(sizes[:n]))
        if n == len(sizes):
            return n, None
        return n, (f"Upload limit reached: a session may hold {self.max_files} files and "
                   f"{self.max_bytes / 2**30:.0f} GB at a time; the last {len(sizes) - n} file(s) were not read. "
                   "Remove some files to read others; the results above are kept.")


def session_budget(state: MutableMapping) -> UploadBudget:
    """The session's budget, kept in its state (Streamlit's `st.session_state`)."""
    budget = state.get(_SESSION_KEY)
    if not isinstance(budget, UploadBudget):
        budget = state[_SESSION_KEY] = UploadBudget()
    return budget
