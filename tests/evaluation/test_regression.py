"""The shipped model and its shipped evaluation must agree: the README's numbers are real."""
import json

import numpy as np
import pytest
from conftest import REPO
from sklearn.metrics import roc_auc_score

from pneumo_core.data.dataset import scan_split
from pneumo_core.evaluation.evaluate import predictions_for
from pneumo_core.inference.predictor import Predictor


def test_default_model_reproduces_its_shipped_test_auc(default_predictor):
    shipped = json.loads((default_predictor.bundle.directory / "eval_test.json").read_text())
    assert shipped["model_sha256"] == default_predictor.bundle.meta.model_sha256, "eval_test.json is stale"
    items = scan_split(REPO / "data", "test")
    assert len(items) == 624
    probs = predictions_for(Predictor(gate=False), items)  # as `evaluate` scores: every film as given
    labels = np.array([it.label for it in items])
    auc = roc_auc_score(labels, probs)
    assert auc == pytest.approx(shipped["metrics"]["balanced"]["roc_auc"]["value"], abs=1e-4)
    # thresholds in the evaluation are the model's own, chosen on validation
    assert shipped["thresholds"] == default_predictor.bundle.thresholds


@pytest.mark.parametrize("model", ["efficientnet_lite0", "paper_cnn"])
def test_shipped_metadata_records_how_the_model_was_made(model):
    meta = json.loads((REPO / "weights" / model / "model.json").read_text())
    for key in ("architecture", "input", "classes", "temperature", "thresholds", "training", "validation",
                "split_manifest_sha256", "model_sha256"):
        assert key in meta, key
    assert set(meta["thresholds"]) == {"balanced", "screening"}
    assert meta["thresholds"]["screening"] <= meta["thresholds"]["balanced"]
    assert meta["training"]["wall_seconds"] > 0 and meta["training"]["hardware"]
    hist = json.loads((REPO / "weights" / model / "history.json").read_text())
    assert {"train_loss", "val_loss", "val_auc", "lr"} <= set(hist[0])
