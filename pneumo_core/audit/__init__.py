"""The audit trail: one append-only, hash-chained record per action a user takes (login,
score, open case, PACS search, report stored, profile made), so a security review can ask
who opened what, and an edited or deleted line is detected (`python -m pneumo_core audit --verify`);
with an anchor (`PNEUMO_AUDIT_ANCHOR`), lines cut off the end or a rewritten chain are detected too.

It sits at the bottom layer and imports nothing from the product but the base error and `io.home` (where its
default trail lies): any layer may record."""
from .anchor import ENV_ANCHOR, FileAnchor, SyslogAnchor, anchor_from
from .text import escape, printable
from .trail import ACTIONS, ID_KEYS, AuditError, AuditLog, cli_user, default_log, default_path

__all__ = ["ACTIONS", "ID_KEYS", "AuditError", "AuditLog", "cli_user", "default_log", "default_path",
           "ENV_ANCHOR", "FileAnchor", "SyslogAnchor", "anchor_from", "escape", "printable"]
