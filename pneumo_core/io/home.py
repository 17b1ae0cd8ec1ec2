"""Where the product's own files are: the home. It holds the model bundles (`weights/`), the shipped
data (`data/`: the official test split and the dataset's duplicate list), the example films
(`examples/`) and the app (`streamlit_app.py`, `gated_app.py`, `pages/`, `.streamlit/config.toml`).

The home is, in this order:

1. `PNEUMO_HOME`, when set: a folder the deployer chose (a checkout's root, or a copy of the
   package's `_home` with other weights beside the shipped ones).
2. The copy inside the installed package, `pneumo_core/_home/`, which the wheel's build places
   there (`pyproject.toml`), so an installed wheel runs from any directory with nothing set.
3. The project folder of an editable install (`pip install -e .`, as `make run` and `make test`
   install the checkout), read from pip's own record of the install (`direct_url.json`, PEP 610),
   and only when that folder holds the very package that is running.

Nothing is found by walking up from a source file: where a module lies says where the code is,
not where a deployment keeps its models. Neither 2 nor 3 present and no `PNEUMO_HOME`: `HomeError`.

What the product writes (the audit trail, revoked logins) is never shipped: `state_dir`.
"""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.resources
import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import PneumoError

__all__ = ["ENV_HOME", "HomeError", "home", "state_dir"]

ENV_HOME = "PNEUMO_HOME"
PACKAGED = "_home"  # the folder inside the package that the wheel's build fills
_DIST = "pneumo-core"


class HomeError(PneumoError, FileNotFoundError):
    """No folder holds the product's files (see the module's docstring for where it looks)."""


def _package_dir() -> Path:
    return Path(str(importlib.resources.files(__name__.split(".")[0])))


@functools.lru_cache(maxsize=1)
def _editable_project() -> Path | None:
    """The folder `pip install -e` was given, if this package was installed from it in editable mode."""
    try:
        record = importlib.metadata.distribution(_DIST).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    info = json.loads(record or "{}")
    if not info.get("dir_info", {}).get("editable") or not info.get("url", "").startswith("file:"):
        return None
    project = Path(unquote(urlparse(info["url"]).path))
    return project if (project / _package_dir().name).resolve() == _package_dir().resolve() else None


def home() -> Path:
    """The folder that holds the product's files (module docstring: `PNEUMO_HOME`, the package's
    copy, an editable install's project).

    Raises:
        HomeError: `PNEUMO_HOME` names no folder, or it is unset and neither of the others exists."""
    chosen = os.environ.get(ENV_HOME)
    if chosen:
        path = Path(chosen).expanduser().resolve()
        if not path.is_dir():
            raise HomeError(f"{ENV_HOME}={chosen} is not a folder")
        return path
    packaged = _package_dir() / PACKAGED
    if packaged.is_dir():
        return packaged.resolve()
    project = _editable_project()
    if project is not None:
        return project
    raise HomeError(f"no product files (weights/, data/, the app): set {ENV_HOME} to the folder that holds them "
                    "(a checkout's root), or install the package (pip install . or its wheel)")


def state_dir() -> Path:
    """Where the product writes what it keeps (the audit trail, revoked logins) unless told otherwise.

    `var/` in the home when the home is a folder someone chose (`PNEUMO_HOME`, or a checkout, where
    `var/` is git-ignored). When the home is the package's copy inside site-packages, which an upgrade
    replaces and a service account may not be allowed to write, the per-user state folder of the XDG
    base directory specification instead, the place it names for logs and history:
    `$XDG_STATE_HOME/pneumo`, by default `~/.local/state/pneumo`. A deployment that must keep its
    trail elsewhere sets `PNEUMO_AUDIT_LOG`."""
    root = home()
    if root != (_package_dir() / PACKAGED).resolve():
        return root / "var"
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg).expanduser() / "pneumo"
