"""The wheel's build hook: the product's files go under the package's `_home/`, where an installed
wheel finds them (`pneumo_core/io/home.py`). A regular wheel only: an editable install (`pip install
-e .`, as `make run` and `make test` install the checkout) copies none of them and reads the
checkout's own. Of `.streamlit/` only `config.toml`: a `secrets.toml` there is the deployer's."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HOME_FILES = ("weights", "data", "examples", "pages", "streamlit_app.py", "gated_app.py", ".streamlit/config.toml")
PACKAGED_HOME = "pneumo_core/_home"  # pneumo_core.io.home.PACKAGED, inside the package


class ProductFiles(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "standard":
            return
        for name in HOME_FILES:
            build_data["force_include"][str(Path(self.root) / name)] = f"{PACKAGED_HOME}/{name}"
