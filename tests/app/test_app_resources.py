"""Tests for pneumo_core.app.runtime.resources: the cached loaders and the warm-up.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import sys

from pneumo_core.app.runtime import paths


def test_importing_any_app_module_does_not_import_torch():
    # torch takes seconds to import here; the first page must not wait for it
    import subprocess
    found = sorted(p.relative_to(paths.REPO_DIR).with_suffix("") for p in (paths.REPO_DIR / "pneumo_core" / "app").rglob("*.py"))
    modules = ", ".join(".".join(p.parts) for p in found if p.name != "__init__")
    assert modules.count("pneumo_core.app.") >= 20
    code = f"import sys, {modules}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_DIR, capture_output=True).returncode == 0


def test_the_launcher_warms_the_model_and_the_cam_before_the_server_takes_requests(monkeypatch):
    from streamlit.web import cli

    from pneumo_core.app.runtime import readiness, resources
    from pneumo_core.app import serve
    started = []
    monkeypatch.setattr(cli, "main", lambda **kw: started.append((readiness.READY.done.is_set(), list(sys.argv))))
    monkeypatch.setattr(sys, "argv", sys.argv[:])
    serve.main(["--server.port", "8765"])
    (warm, argv), = started
    assert warm and argv[1:] == ["run", str(serve.ENTRYPOINT), "--server.port", "8765"]
    assert resources.get_predictor(paths.DEFAULT_MODEL) is resources.get_predictor(paths.DEFAULT_MODEL)
    assert "pneumo_core.inference.saliency" in sys.modules and "plotly.express" in sys.modules
