"""The CPU training-time record accepts only a whole, unmodified, CPU run of the documented command."""
import json

import pytest
from conftest import REPO

from pneumo_core.training.run_summary import summarise_run


@pytest.fixture()
def cpu_run(tmp_path):
    """A finished run's files, shaped like the shipped paper_cnn's but trained on a CPU."""
    meta = json.loads((REPO / "weights" / "paper_cnn" / "model.json").read_text())
    meta["training"] = {**meta["training"], "hardware": "AMD EPYC (2 cores)", "wall_seconds": 3000.0,
                        "config": {**meta["training"]["config"], "device": "auto", "early_stop_from": 0.5}}
    history = [{"epoch": i + 1, "seconds": 90.0, "val_loss": 0.1} for i in range(meta["epochs_run"])]

    def write(meta=meta, history=history):
        (tmp_path / "model.json").write_text(json.dumps(meta))
        (tmp_path / "history.json").write_text(json.dumps(history))
        return tmp_path
    return meta, write


def test_a_documented_cpu_run_is_summarised(cpu_run):
    meta, write = cpu_run
    s = summarise_run(write())
    assert s["measured_minutes"] == 50.0 and s["epochs_run"] == meta["epochs_run"]
    documented = meta["training"]["config"]["epochs"]
    assert s["minutes_without_early_stop"] == round(50.0 + (documented - meta["epochs_run"]) * 90.0 / 60, 1)


def test_an_early_stopped_run_is_projected_to_every_documented_epoch(cpu_run):
    meta, write = cpu_run
    meta = json.loads(json.dumps(meta))
    meta["epochs_run"] = 9
    s = summarise_run(write(meta, [{"epoch": i + 1, "seconds": t, "val_loss": 0.1} for i, t in enumerate([100.0] * 8 + [400.0])]))
    assert s["minutes_without_early_stop"] == round((3000.0 + 21 * 100.0) / 60, 1), "median epoch, not the slow one"
    assert s["validation_balanced"]["roc_auc"] == meta["validation"]["roc_auc"]["balanced"]


@pytest.mark.parametrize("change, why", [
    (lambda m: m["training"].update(hardware="NVIDIA H200"), "trained on"),
    (lambda m: m["training"]["config"].update(lr=0.01), "documented defaults"),
    (lambda m: m["training"]["config"].update(mixup=0.2), "documented defaults"),
    (lambda m: m["training"]["config"].update(limit_per_class=10), "documented defaults"),
    (lambda m: m["training"].update(wall_seconds=60.0), "resumed"),
    (lambda m: m["training"]["config"].pop("early_stop_from"), "documented defaults"),  # it could stop at any epoch
])
def test_other_runs_are_refused(cpu_run, change, why):
    meta, write = cpu_run
    meta = json.loads(json.dumps(meta))
    change(meta)
    with pytest.raises(SystemExit, match=why):
        summarise_run(write(meta))


def test_a_run_from_before_a_setting_existed_counts_as_its_default(cpu_run):
    meta, write = cpu_run
    meta = json.loads(json.dumps(meta))
    for k in ("label_smoothing", "mixup", "backbone_lr_scale"):
        meta["training"]["config"].pop(k, None)
    assert summarise_run(write(meta))["measured_minutes"] == 50.0
