"""Whether the trail can be written, asked before anything is served or scored: no result may be
shown without its record, so a server whose trail cannot be written refuses to start (the launcher,
in one line) and its pages show that line's reason instead of any content (the app's door).

The check opens the trail for appending (creating its folder), as the first record will, and the
anchor file likewise (without creating a folder: a missing mount must fail). A trail that is not a
regular file is refused too: each record chains to the last one read back from the file, which a
device (`/dev/null`, `/dev/full`) or a pipe cannot give. A syslog anchor cannot be tried without
writing to it; its first record fails instead (`AuditError`). A full disk is seen only there too.
"""
from __future__ import annotations

import os
import stat

from .anchor import ENV_ANCHOR, FileAnchor
from .trail import ENV_PATH, AuditError, AuditLog, default_log

__all__ = ["trail_problem"]


def _why(exc: OSError) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a file stands where its folder should be"
    return exc.strerror or type(exc).__name__


def _appendable(path: os.PathLike, make_folder: bool) -> str | None:
    """Why `path` cannot be appended to (creating it if needed), or None."""
    try:
        if make_folder:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            mode = os.fstat(fd).st_mode
        finally:
            os.close(fd)
    except OSError as exc:
        return _why(exc)
    return None if stat.S_ISREG(mode) else "it is not a regular file"


def trail_problem(log: AuditLog | None = None) -> str | None:
    """One line saying why the trail (default: the configured one, `default_log`) or its file anchor
    cannot be written, and which variable to set; None when both can."""
    if log is None:
        try:
            log = default_log()
        except AuditError as exc:  # an anchor setting that names nothing usable
            return f"the audit anchor cannot be used ({exc}); set {ENV_ANCHOR} to a writable file or a syslog address"
    why = _appendable(log.path, make_folder=True)
    if why:
        return f"the audit trail {log.path} cannot be written ({why}); set {ENV_PATH} to a writable file"
    if isinstance(log.anchor, FileAnchor):
        why = _appendable(log.anchor.path, make_folder=False)
        if why:
            return f"the audit anchor {log.anchor.path} cannot be written ({why}); set {ENV_ANCHOR} to a writable file"
    return None
