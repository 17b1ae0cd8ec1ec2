"""A tiny end-to-end training run writes a complete, loadable, verifiable bundle."""
import json
import shutil

import numpy as np
import pytest

from pneumo_core.inference.ood import OODModel
from pneumo_core.inference.predictor import Predictor
from pneumo_core.models.bundle import load_bundle, sha256_file
from pneumo_core.models.manifest import verify_bundle
from pneumo_core.training.config import TrainConfig
from pneumo_core.training.train import train


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory, test_images):
    """A Kaggle-layout folder built from a few shipped test images (never the real train set)."""
    root = tmp_path_factory.mktemp("tiny") / "chest_xray"
    for cls, files in test_images.items():
        d = root / "train" / cls
        d.mkdir(parents=True)
        for f in files[:12]:
            shutil.copy(f, d / f.name)
    return root


def test_one_epoch_writes_valid_artifacts(tiny_dataset, tmp_path):
    out = tmp_path / "weights" / "paper_cnn"
    cfg = TrainConfig(data=tiny_dataset, arch="paper_cnn", out=out, run_dir=tmp_path / "run", epochs=1,
                      batch_size=8, val_fraction=0.3, workers=1)
    meta = train(cfg)
    assert {p.name for p in out.iterdir()} == {"model.pt", "model.json", "history.json", "split.json", "ood.npz",
                                               "manifest.json"}
    assert verify_bundle(out) == ["orientation.npz: missing", "orientation.json: missing",
                                  "drift_reference.npz: missing", "drift_reference.json: missing",
                                  "eval_test.json: missing", "eval_val.json: missing"]  # added by later commands
    on_disk = json.loads((out / "model.json").read_text())
    assert on_disk["model_sha256"] == sha256_file(out / "model.pt")
    assert on_disk["input"] == {"size": 128, "channels": 1, "mean": 0.5, "std": 0.5}
    assert on_disk["temperature"] > 0 and 0 <= on_disk["thresholds"]["screening"] <= on_disk["thresholds"]["balanced"] <= 1
    assert len(json.loads((out / "history.json").read_text())) == 1
    split = json.loads((out / "split.json").read_text())
    assert split["train"] and split["val"] and not set(split["train"]) & set(split["val"])
    assert np.isfinite(OODModel.load(out / "ood.npz").threshold)
    assert not (tmp_path / "run").exists(), "resume checkpoints are cleaned up after a finished run"
    assert meta.training["wall_seconds"] > 0 and on_disk["schema_version"] == meta.schema_version
    pred = Predictor(load_bundle(out)).predict_sources([(next((tiny_dataset / "train" / "NORMAL").iterdir()), "x")])
    assert 0 <= next(pred).probability <= 1


def test_recalibrate_reproduces_what_training_wrote(tiny_dataset, tmp_path):
    """Training ends with the calibration choice; re-running it on the saved weights (how
    weights trained before that step existed get it) reaches the same choice, keeps a fit
    that already matches it, refits one that does not, and never touches the weights."""
    from pneumo_core.calibration.shift import CALIBRATION_RULE
    from pneumo_core.training.maintenance import recalibrate

    out = tmp_path / "w"
    written = train(TrainConfig(data=tiny_dataset, arch="paper_cnn", out=out, run_dir=tmp_path / "run", epochs=1,
                                batch_size=8, val_fraction=0.3, workers=1, device="cpu"))  # recalibrate runs on the CPU
    assert written.calibration["rule"] == CALIBRATION_RULE and written.calibration["fitted_on"][0] == "clean"
    weights = sha256_file(out / "model.pt")
    old = json.loads((out / "model.json").read_text())

    def rewrite(**fields):
        (out / "model.json").write_text(json.dumps({**old, "calibration": None, **fields}))

    # Fitted the other way than the rule now picks: the operating point is refitted.
    other = ["clean"] if written.calibration["fitted_on"] != ["clean"] else ["clean", "blur_1.0"]
    rewrite(temperature=1.0, thresholds={"balanced": 0.5, "screening": 0.5}, calibration={"fitted_on": other})
    redone = recalibrate(out, tiny_dataset)
    assert redone.calibration["fitted_on"] == written.calibration["fitted_on"]
    assert redone.temperature == pytest.approx(written.temperature, rel=1e-4)
    assert redone.thresholds == pytest.approx(written.thresholds, abs=1e-4)
    assert json.loads((out / "model.json").read_text())["thresholds"] == redone.thresholds
    # Already fitted the way the rule picks (no record means clean): the fit stays, the record is added.
    same = written.calibration["fitted_on"]
    rewrite(temperature=1.0, thresholds={"balanced": 0.5, "screening": 0.5},
            **({} if same == ["clean"] else {"calibration": {"fitted_on": same}}))
    before = json.loads((out / "model.json").read_text())
    kept = recalibrate(out, tiny_dataset)
    assert kept.temperature == 1.0 and kept.thresholds["balanced"] == 0.5
    assert kept.calibration["fitted_on"] == same and "stays" in kept.calibration["applied"]
    after = json.loads((out / "model.json").read_text())
    assert {k: v for k, v in after.items() if k != "calibration"} == {k: v for k, v in before.items() if k != "calibration"}
    assert all("shipped" in fold for fold in kept.calibration["folds"].values()), "the kept point is scored too"
    assert sha256_file(out / "model.pt") == weights and load_bundle(out).temperature == pytest.approx(
        json.loads((out / "model.json").read_text())["temperature"])


def test_interrupted_run_resumes_from_its_checkpoint(tiny_dataset, tmp_path, monkeypatch):
    """Training is long on a CPU; a killed run must continue, not restart."""
    import pneumo_core.training.train as T

    cfg = TrainConfig(data=tiny_dataset, arch="paper_cnn", out=tmp_path / "w", run_dir=tmp_path / "run", epochs=2,
                      batch_size=8, val_fraction=0.3, workers=1)
    real_fit = T.choose_operating_point
    calls = {"n": 0}

    def crash(*a, **k):  # dies after all epochs ran, before the bundle is written
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real_fit(*a, **k)

    monkeypatch.setattr(T, "choose_operating_point", crash)
    with pytest.raises(KeyboardInterrupt):
        T.train(cfg)
    assert (tmp_path / "run" / "last.pt").is_file()
    meta = T.train(cfg)
    hist = json.loads((tmp_path / "w" / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2] and meta.epochs_run == 2


def test_backbone_learns_slower_than_the_head_when_scaled():
    from pneumo_core.models.registry import REGISTRY, create_model
    from pneumo_core.training.loop import param_groups as _param_groups

    model = create_model("paper_cnn")
    head, body = _param_groups(model, REGISTRY["paper_cnn"].head, 1e-3, 0.1)
    assert head["lr"] == 1e-3 and body["lr"] == pytest.approx(1e-4)
    assert len(head["params"]) + len(body["params"]) == len(list(model.parameters()))
    assert any(p is model.fc.weight for p in head["params"]) and all(p is not model.fc.weight for p in body["params"])
    (single,) = _param_groups(model, REGISTRY["paper_cnn"].head, 1e-3, 1.0)
    assert [id(p) for p in single["params"]] == [id(p) for p in model.parameters()], \
        "unscaled: model order, so an optimiser checkpoint from before the head/backbone split still fits"
    for name, arch in REGISTRY.items():  # every registered head prefix names real parameters
        assert any(n.startswith(arch.head) for n, _ in create_model(name).named_parameters()), name


def test_soft_targets_mix_and_smooth_but_leave_defaults_alone(tmp_path):
    import torch

    from pneumo_core.training.loop import soft_targets as _soft_targets

    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0.0, 1, 1, 0, 1, 0])
    plain = TrainConfig(data=tmp_path, arch="paper_cnn")
    x0, y0 = _soft_targets(x, y, plain, torch.Generator().manual_seed(0), step=3)
    assert torch.equal(x0, x) and torch.equal(y0, y)
    smooth = TrainConfig(data=tmp_path, arch="paper_cnn", label_smoothing=0.1)
    assert torch.allclose(_soft_targets(x, y, smooth, torch.Generator(), step=0)[1], y * 0.9 + 0.05)
    mixed = TrainConfig(data=tmp_path, arch="paper_cnn", mixup=0.4)
    xa, ya = _soft_targets(x, y, mixed, torch.Generator().manual_seed(0), step=5)
    xb, yb = _soft_targets(x, y, mixed, torch.Generator().manual_seed(0), step=5)
    assert torch.equal(xa, xb) and torch.equal(ya, yb), "a resumed run must draw the same mix"
    assert not torch.equal(xa, x) and ((ya > 0) & (ya < 1)).any()
    assert torch.isclose(ya.sum(), y.sum()), "mixing pairs within a batch keeps its label mass"


def test_regularised_run_records_its_settings(tiny_dataset, tmp_path):
    out = tmp_path / "w"
    cfg = TrainConfig(data=tiny_dataset, arch="paper_cnn", out=out, run_dir=tmp_path / "run", epochs=1, batch_size=8,
                      val_fraction=0.3, workers=1, label_smoothing=0.1, mixup=0.2, backbone_lr_scale=0.1)
    meta = train(cfg)
    assert {k: meta.training["config"][k] for k in ("label_smoothing", "mixup", "backbone_lr_scale")} == \
        {"label_smoothing": 0.1, "mixup": 0.2, "backbone_lr_scale": 0.1}
    assert np.isfinite(json.loads((out / "history.json").read_text())[0]["train_loss"])


def test_every_run_records_its_flip_setting(tiny_dataset, tmp_path):
    """The documented command (no --hflip auto) must still say whether flips were used, and why."""
    from pneumo_core.app.review.model_card import training_rows

    meta = train(TrainConfig(data=tiny_dataset, arch="paper_cnn", out=tmp_path / "w", run_dir=tmp_path / "run", epochs=1,
                             batch_size=8, val_fraction=0.3, workers=1))
    assert meta.hflip_decision["hflip"] is False and "--hflip" in meta.hflip_decision["rule"]
    row = {r["field"]: r["value"] for r in training_rows(meta)}["horizontal flips"]
    assert row.startswith("not used: set by --hflip") and "best validation loss" not in row
    hist = json.loads((tmp_path / "w" / "history.json").read_text())
    assert {"train_loss", "train_accuracy", "train_auc", "val_loss", "val_accuracy", "val_auc", "lr"} <= set(hist[0])


def test_a_child_of_the_official_val_never_stays_on_the_train_side(tiny_dataset, tmp_path):
    from pneumo_core.data.dataset import patient_id
    from pneumo_core.training.train import _split

    root = tmp_path / "chest_xray"
    shutil.copytree(tiny_dataset, root)
    first = sorted((root / "train" / "PNEUMONIA").iterdir())[0]
    (root / "val" / "PNEUMONIA").mkdir(parents=True)
    (root / "val" / "NORMAL").mkdir(parents=True)
    child = patient_id(first.name)
    shutil.copy(first, root / "val" / "PNEUMONIA" / f"{child}_bacteria_99999.jpeg")
    shutil.copy(next((root / "train" / "NORMAL").iterdir()), root / "val" / "NORMAL" / "IM-9999-0001.jpeg")
    for seed in range(4):  # whichever side the split first puts that child on
        train_items, val_items, manifest = _split(TrainConfig(data=root, arch="paper_cnn", val_fraction=0.3, seed=seed))
        assert child not in {patient_id(it.path.name) for it in train_items if it.label == 1}
        assert f"val/PNEUMONIA/{child}_bacteria_99999.jpeg" in manifest["val"]
        assert manifest["duplicates"]["groups"] == 34  # the shipped list, since this folder has none


def test_a_checkpoint_from_before_the_new_settings_still_resumes(tmp_path):
    """Settings added later default to off; a run checkpointed before they existed is the same run."""
    from pneumo_core.training.train import result_config

    now = TrainConfig(data=tmp_path, arch="efficientnet_lite0").to_dict()
    older = {k: v for k, v in now.items() if k not in ("label_smoothing", "mixup", "backbone_lr_scale")}
    assert result_config(older) == result_config(now)
    assert result_config(dict(older, lr=1.0)) != result_config(now)
    assert result_config(dict(now, mixup=0.2)) != result_config(now)
    # early stopping at any epoch was how runs behaved before early_stop_from: not the new default
    before = {k: v for k, v in now.items() if k != "early_stop_from"}
    assert result_config(before) == result_config(dict(now, early_stop_from=0.0)) != result_config(now)


def test_training_stops_early_no_sooner_than_early_stop_from(tiny_dataset, tmp_path, monkeypatch):
    """With validation logits frozen, no epoch after the first improves: the run must end
    exactly at the first epoch early stopping is allowed (epoch 3 of 6 at 0.5)."""
    import pneumo_core.training.train as T

    real = T.logits_and_features

    def frozen(model, images, spec, device, batch=128):
        _, feats = real(model, images, spec, device, batch)
        return np.random.default_rng(0).normal(size=len(images)), feats

    monkeypatch.setattr(T, "logits_and_features", frozen)
    meta = T.train(TrainConfig(data=tiny_dataset, arch="paper_cnn", out=tmp_path / "w", run_dir=tmp_path / "run",
                               epochs=6, patience=1, early_stop_from=0.5, batch_size=8, val_fraction=0.3, workers=1,
                               device="cpu"))
    assert meta.epochs_run == 3 and meta.best_epoch == 1


@pytest.mark.parametrize("bad", [dict(label_smoothing=1.0), dict(label_smoothing=-0.1), dict(mixup=-1.0),
                                 dict(backbone_lr_scale=-0.5)])
def test_out_of_range_regularisation_is_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        TrainConfig(data=tmp_path, arch="paper_cnn", **bad)


def test_early_stopping_waits_for_the_second_half_of_the_schedule(tiny_dataset):
    """A lucky early minimum of a noisy validation loss must not end the run."""
    from pneumo_core.training.train import should_stop

    cfg = TrainConfig(data=tiny_dataset, arch="paper_cnn", epochs=30, patience=6)
    assert cfg.early_stop_from == 0.5
    assert not should_stop(9, 6, cfg) and not should_stop(14, 11, cfg)
    assert should_stop(15, 6, cfg) and not should_stop(15, 5, cfg)
    assert should_stop(3, 2, TrainConfig(data=tiny_dataset, arch="paper_cnn", epochs=30, patience=2, early_stop_from=0))
    with pytest.raises(ValueError):
        TrainConfig(data=tiny_dataset, arch="paper_cnn", early_stop_from=1.5)
