"""What can go wrong talking to a PACS, as exceptions whose messages are safe to print."""
from __future__ import annotations

from ..errors import PneumoError

__all__ = ["PacsError", "PacsUnavailable", "PacsAuthError", "PacsRefused"]


class PacsError(PneumoError):
    """A one-line reason that is safe to print: no credentials, no URL query, no patient data."""


class PacsUnavailable(PacsError):
    """The server cannot be reached, times out, or kept failing (5xx) after every try."""


class PacsAuthError(PacsError):
    """The server refused the credentials (HTTP 401 or 403)."""


class PacsRefused(PacsError):
    """Refused here, before any request was sent: a wildcard or unbounded search, an invalid UID,
    plain http that was not allowed. The message never repeats the value it refuses."""
