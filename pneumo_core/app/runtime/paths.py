"""Where the app's files are: the shipped models, the bundled examples, the test images, and the
app's own scripts (`streamlit_app.py`, `gated_app.py`, `pages/`, `.streamlit/`), all in the product's
home (`pneumo_core.io.home`: `PNEUMO_HOME`, the installed package's copy, or an editable checkout).
The model folder and list come from `pneumo_core.models.bundle` (torch-free at import)."""
from __future__ import annotations

from pathlib import Path

from ...io.home import home
from ...models import bundle
from ...models.bundle import DATA_DIR, DEFAULT_MODEL, WEIGHTS_DIR, list_models

__all__ = ["REPO_DIR", "ENTRYPOINT", "WEIGHTS_DIR", "DEFAULT_MODEL", "DATA_DIR", "EXAMPLES_DIR", "list_models",
    "resolve_model_dir", "example_files", "test_image_bytes"]

REPO_DIR = home()  # the home; the launcher serves its streamlit_app.py and reads its .streamlit/
ENTRYPOINT = REPO_DIR / "streamlit_app.py"  # what the launcher serves and a page run alone hands over to
EXAMPLES_DIR = REPO_DIR / "examples"


def resolve_model_dir(name: str) -> Path:
    """A shipped model's folder; anything else (a path, a typo) is refused."""
    return bundle.resolve_model_dir(name, allow_paths=False)


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES_DIR.glob("*") if p.is_file() and not p.name.startswith("."))


def test_image_bytes(key: str) -> bytes:
    """A file named in eval_test.json ("test/NORMAL/x.jpeg"), read only from inside data/."""
    path = (DATA_DIR / key).resolve()
    if DATA_DIR.resolve() not in path.parents:
        raise ValueError("evaluation file key points outside data/")
    return path.read_bytes()
