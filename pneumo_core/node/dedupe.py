"""Which films the node has already dealt with, by SOP Instance UID and by the sha256 of
their bytes: a router that sends a film twice (a retry after a lost answer, a study re-sent
by hand) gets nothing new. A film counts as dealt with once its results were stored, or once
it was found to get none (not assessed, unreadable): a film whose results could not be sent
is not, so sending it again is how it is retried.

Memory is bounded: the oldest entries are forgotten past `capacity`. Then a resend is scored
again, and still stores nothing new: the results' UIDs are derived from the film and what they
say, and the destination is asked for them first (DICOMweb) or keeps one copy of a UID (C-STORE).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["Seen", "CAPACITY"]

CAPACITY = 100_000  # keys: a UID and a digest per film, so the last 50,000 films; ~20 MB at most


class Seen:
    """Thread-safe: the receiver asks, the worker asks and adds."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._keys

    def any_of(self, *keys: str | None) -> bool:
        """Whether any of the given keys (a UID, a digest; None ignored) was added."""
        with self._lock:
            return any(k is not None and k in self._keys for k in keys)

    def add(self, *keys: str | None) -> None:
        with self._lock:
            for key in keys:
                if key is None:
                    continue
                self._keys[key] = None
                self._keys.move_to_end(key)
            while len(self._keys) > self.capacity:
                self._keys.popitem(last=False)
