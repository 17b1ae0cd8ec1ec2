"""Tests for pneumo_core.app.resources: the cached loaders and the warm-up.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

from pneumo_core.app import paths


def test_importing_any_app_module_does_not_import_torch():
    # torch takes seconds to import here; the first page must not wait for it
    import subprocess
    import sys
    modules = ", ".join(f"pneumo_core.app.{m}" for m in ("paths", "formatting", "cases", "eval_views", "model_card",
                                                        "figures", "resources", "scoring", "sidebar", "widgets"))
    code = f"import sys, {modules}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_DIR, capture_output=True).returncode == 0


def test_identical_presets_are_labelled_as_such():
    """Two radio buttons with the same number must not look like a choice."""
    from pneumo_core.app.sidebar import _preset_label
    same = {"balanced": 0.174, "screening": 0.174}
    assert _preset_label("balanced", same) == "balanced (0.174)"
    assert _preset_label("screening", same) == "screening (0.174, same as balanced here)"
    assert _preset_label("screening", {"balanced": 0.3, "screening": 0.1}) == "screening (0.100)"
    assert _preset_label("custom", same) == "custom (slider)"
