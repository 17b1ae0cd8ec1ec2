"""The one base class of every error the product raises on purpose: bad input, a bundle that
does not verify, a profile for other weights, a PACS that refuses. Each says in one line what
is wrong in the user's words; the command line catches `PneumoError` alone and exits 2 with
that line, so a new error class needs no new `except` anywhere."""
from __future__ import annotations

__all__ = ["PneumoError"]


class PneumoError(Exception):
    """A failure the user can act on; its message is one line and carries no file-derived text."""
