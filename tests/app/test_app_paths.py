"""Tests for pneumo_core.app.runtime.paths: the shipped models, examples and test images the app reads.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import pytest

from pneumo_core.app.runtime import paths
from pneumo_core.models.bundle import list_models

MODELS = list_models()


def test_app_resolves_only_shipped_model_names_to_the_artifacts_folders():
    from pneumo_core.models import bundle as artifacts
    assert paths.WEIGHTS_DIR == artifacts.WEIGHTS_DIR and paths.DEFAULT_MODEL == artifacts.DEFAULT_MODEL
    assert paths.list_models() == artifacts.list_models()
    assert all(paths.resolve_model_dir(m) == artifacts.resolve_model_dir(m) for m in MODELS)
    shipped_as_a_path = str(artifacts.WEIGHTS_DIR / "paper_cnn")
    assert artifacts.resolve_model_dir(shipped_as_a_path) == artifacts.WEIGHTS_DIR / "paper_cnn"  # the CLI takes paths
    for not_a_name in ("../weights/paper_cnn", shipped_as_a_path):  # the app never does
        with pytest.raises(artifacts.WeightsError):
            paths.resolve_model_dir(not_a_name)


def test_test_image_bytes_never_reads_outside_data():
    with pytest.raises(ValueError):
        paths.test_image_bytes("../weights/efficientnet_lite0/model.json")
    with pytest.raises(ValueError):
        paths.test_image_bytes("/etc/passwd")


def test_bundled_examples_are_test_images_of_both_classes():
    files = paths.example_files()
    assert len(files) >= 4
    classes = [c for f in files for c in ("NORMAL", "PNEUMONIA") if (paths.DATA_DIR / "test" / c / f.name).is_file()]
    assert len(classes) == len(files) and classes.count("NORMAL") >= 2 and classes.count("PNEUMONIA") >= 2


def test_the_launcher_serves_the_app_and_settings_of_the_products_home():
    from pneumo_core.io.home import home
    assert paths.REPO_DIR == home()
    for name in ("streamlit_app.py", "gated_app.py", ".streamlit/config.toml", "pages/diagnose.py"):
        assert (paths.REPO_DIR / name).is_file(), f"{name} is not in the home"
    assert paths.EXAMPLES_DIR == home() / "examples" and paths.WEIGHTS_DIR == home() / "weights"
