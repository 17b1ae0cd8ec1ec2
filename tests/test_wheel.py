"""The product as a hospital installs it: the wheel built from this checkout, installed into a fresh
environment outside it, run from another directory with nothing set. It must carry its own models,
data and app (pneumo_core/io/home.py), score a film as the shipped evaluation did, and write its
audit trail outside site-packages.

To save minutes the fresh environment reaches the test environment's dependencies through a
`.pth` line naming their folder; a plain path line in a `.pth` file is only added to `sys.path`
(the `.pth` files inside that folder, such as the editable install's link to this checkout, are not
read), and the test asserts that `pneumo_core` itself comes from the fresh environment."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FILM = "person100_bacteria_475.jpeg"  # an example film, in the shipped evaluation's test split
MODEL = "efficientnet_lite0"  # the default model
PROBE = "import json, pneumo_core; from pneumo_core.io import home; " \
        "print(json.dumps({'package': pneumo_core.__file__, 'home': str(home.home())}))"


def _run(*cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel, and a fresh environment with it installed, outside the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", root / "dist",
                 REPO, cwd=root)
    assert built.returncode == 0, built.stderr
    wheel = next((root / "dist").glob("pneumo_core-*.whl"))
    venv = root / "venv"
    assert _run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    python = venv / "bin" / "python"
    done = _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    assert done.returncode == 0, done.stderr
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (purelib / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(REPO / "examples" / FILM, elsewhere / FILM)
    env = {k: v for k, v in os.environ.items() if k not in ("PNEUMO_HOME", "PNEUMO_AUDIT_LOG", "PYTHONPATH")}
    env |= {"HOME": str(root / "user"), "XDG_STATE_HOME": str(root / "user" / "state")}
    return {"wheel": wheel, "venv": venv, "python": python, "purelib": purelib, "cwd": elsewhere, "env": env,
            "state": root / "user" / "state" / "pneumo"}


def test_the_wheel_carries_the_models_data_and_app_and_no_secrets(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    home = "pneumo_core/_home/"
    for shipped in ("streamlit_app.py", "gated_app.py", ".streamlit/config.toml", f"weights/{MODEL}/model.pt",
                    f"weights/{MODEL}/model.json", "data/chest_xray_duplicates.txt", f"data/test/PNEUMONIA/{FILM}",
                    f"examples/{FILM}", "pages/diagnose.py"):
        assert home + shipped in names, f"{shipped} missing from the wheel"
    assert not [n for n in names if "secrets" in n or "__pycache__" in n or n.startswith(home + "var/")]
    assert any(n.endswith("entry_points.txt") for n in names)


def test_the_installed_package_is_the_wheels_not_the_checkouts(installed):
    seen = json.loads(_run(installed["python"], "-c", PROBE, cwd=installed["cwd"], env=installed["env"]).stdout)
    package_dir = installed["purelib"] / "pneumo_core"
    assert Path(seen["package"]).parent == package_dir
    assert Path(seen["home"]) == package_dir / "_home"


def test_pneumo_from_another_directory_scores_a_film_as_the_shipped_evaluation_did(installed):
    pneumo = installed["venv"] / "bin" / "pneumo"
    usage = _run(pneumo, "--help", cwd=installed["cwd"], env=installed["env"])
    assert usage.returncode == 0 and usage.stdout.startswith("usage: pneumo ") and " serve " in usage.stdout
    done = _run(pneumo, "predict", FILM, cwd=installed["cwd"], env=installed["env"])
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])
    shipped = json.loads((REPO / "weights" / MODEL / "eval_test.json").read_text())
    expected = next(p["probability"] for p in shipped["predictions"] if p["file"] == f"test/PNEUMONIA/{FILM}")
    assert (line["status"], line["model"], line["label"]) == ("scored", MODEL, "PNEUMONIA")
    assert line["probability"] == pytest.approx(expected, abs=1e-4)
    trail = installed["state"] / "audit.jsonl"  # the user's state folder, not site-packages
    assert json.loads(trail.read_text().splitlines()[-1])["action"] == "score"


def test_pneumo_serve_starts_on_the_packaged_app_settings_from_another_directory(installed):
    """Without the packaged .streamlit/config.toml (loopback only) Streamlit would listen on every
    interface and the launcher would refuse to start; it approves, naming the settings it read, before
    the model loads. Stopped there."""
    proc = subprocess.Popen([installed["venv"] / "bin" / "pneumo", "serve", "--server.port", "0"],
                            cwd=installed["cwd"], env=installed["env"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    stuck = threading.Timer(120, proc.kill)  # a launcher that says nothing fails the test, not the run
    stuck.start()
    try:
        first = proc.stdout.readline()
    finally:
        stuck.cancel()
        proc.kill()
        proc.wait()
    settings = installed["purelib"] / "pneumo_core" / "_home" / ".streamlit"
    assert first.startswith(f"pneumo: settings from {settings}; listening on 127.0.0.1"), first
