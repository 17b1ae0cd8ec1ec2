"""Characters that must never reach the trail or a terminal raw: Unicode control (Cc: ANSI escapes,
carriage return), format (Cf: bidi overrides, zero-width joiners), line and paragraph separators
(Zl, Zp: U+2028 breaks a line in editors and `less`) and lone surrogates (Cs: unprintable).
An account name holding one is escaped, not refused, because it comes from the identity provider
and losing the record would hide the action."""
from __future__ import annotations

import unicodedata

__all__ = ["UNSAFE_CATEGORIES", "is_unsafe", "escape", "printable"]

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def is_unsafe(text: str) -> bool:
    """True when `text` holds a character of `UNSAFE_CATEGORIES`."""
    return any(unicodedata.category(c) in UNSAFE_CATEGORIES for c in text)


def _code(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def escape(text: str) -> str:
    r"""The form written to the trail: each unsafe character as `\xNN`, `\uNNNN` or `\UNNNNNNNN`, and a
    backslash doubled, so two different names never share one escaped form (`a\x1b` typed by a user
    is stored as `a\\x1b`, an ESC as `a\x1b`)."""
    return "".join("\\\\" if c == "\\" else _code(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c
                   for c in text)


def printable(value: object) -> str:
    """Any value read back from a file, ready for a terminal: unsafe characters as escapes, the rest as is
    (a file can hold what this program would never write: an old record, a hand-made line)."""
    return "".join(_code(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in str(value))
