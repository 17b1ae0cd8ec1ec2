"""The validation split must never put one child's films (or one duplicated film) on both sides."""
import json
from pathlib import Path

import pytest
from conftest import REPO

from pneumo_core.data.dataset import (SHIPPED_DUPLICATES, Item, duplicates_file, grouped_split, patient_id,
                                      read_duplicate_groups)


@pytest.mark.parametrize("name, expected", [
    ("person12_bacteria_45.jpeg", "person12"),
    ("person1000_virus_1681.jpeg", "person1000"),
    ("IM-0115-0001.jpeg", "IM-0115"),
    ("NORMAL2-IM-1427-0001.jpeg", "NORMAL2-IM-1427"),
    ("odd-name.png", "odd-name"),
])
def test_patient_id_parsed_from_kaggle_names(name, expected):
    assert patient_id(name) == expected


def _synthetic_items(tmp_path: Path) -> list[Item]:
    items = []
    for p in range(40):
        for k in range(1 + p % 3):
            items.append(Item(tmp_path / "train" / "PNEUMONIA" / f"person{p}_bacteria_{k}.jpeg", 1))
    for p in range(20):
        for k in range(1 + p % 2):
            items.append(Item(tmp_path / "train" / "NORMAL" / f"IM-{p:04d}-{k:04d}.jpeg", 0))
    return items


def test_split_never_puts_a_patient_on_both_sides(tmp_path):
    items = _synthetic_items(tmp_path)
    dup = [["train/PNEUMONIA/person1_bacteria_0.jpeg", "train/PNEUMONIA/person2_bacteria_0.jpeg"]]
    train, val = grouped_split(items, 0.25, seed=3, duplicate_groups=dup)
    assert len(train) + len(val) == len(items)
    pid = lambda its: {(it.label, patient_id(it.path.name)) for it in its}  # noqa: E731
    assert not pid(train) & pid(val)
    # the duplicate group joins person1 and person2: both on the same side
    sides = {patient_id(it.path.name): "val" if it in val else "train" for it in items}
    assert sides["person1"] == sides["person2"]
    # both classes present in validation (stratified)
    assert {it.label for it in val} == {0, 1}


def test_split_is_deterministic_from_its_seed(tmp_path):
    items = _synthetic_items(tmp_path)
    assert grouped_split(items, 0.2, 7) == grouped_split(items, 0.2, 7)
    assert grouped_split(items, 0.2, 7)[1] != grouped_split(items, 0.2, 8)[1]


@pytest.mark.parametrize("model", ["efficientnet_lite0", "paper_cnn"])
def test_shipped_split_manifest_keeps_patients_and_duplicates_apart(model):
    manifest = json.loads((REPO / "weights" / model / "split.json").read_text())
    train_keys, val_keys = set(manifest["train"]), set(manifest["val"])
    assert train_keys and val_keys and not train_keys & val_keys
    pid = lambda keys: {(Path(k).parent.name, patient_id(Path(k).name)) for k in keys}  # noqa: E731
    assert not pid(train_keys) & pid(val_keys)
    assert not any(k.startswith("test/") for k in train_keys | val_keys), "the test split must never be trained or tuned on"
    frac = len([k for k in val_keys if k.startswith("train/")]) / (len(train_keys) + len(val_keys))
    assert 0.10 <= frac <= 0.15


@pytest.mark.parametrize("model", ["efficientnet_lite0", "paper_cnn"])
def test_shipped_split_keeps_every_duplicate_group_of_the_dataset_on_one_side(model):
    dups = read_duplicate_groups(SHIPPED_DUPLICATES)
    assert len(dups) == 34, "the dataset lists 34 duplicate groups"
    manifest = json.loads((REPO / "weights" / model / "split.json").read_text())
    side = {k: 0 for k in manifest["train"]} | {k: 1 for k in manifest["val"]}
    train_groups = [g for g in dups if all(k.startswith("train/") for k in g)]
    assert len(train_groups) == 28 and all(k in side for g in train_groups for k in g)
    for group in train_groups:
        assert len({side[k] for k in group}) == 1, group


def test_training_finds_the_shipped_duplicate_list_when_the_dataset_lacks_one(tmp_path):
    """A Kaggle download has no duplicate list; the split must not silently go without one."""
    assert duplicates_file(tmp_path / "chest_xray") == SHIPPED_DUPLICATES
    (tmp_path / "chest_xray_duplicates.txt").write_text("1.0 train/NORMAL/a.jpeg train/NORMAL/b.jpeg\n")
    assert duplicates_file(tmp_path / "chest_xray") == tmp_path / "chest_xray_duplicates.txt"


def test_counts_command_reports_each_split_of_the_shipped_test_data(capsys):
    from pneumo_core.cli import main
    assert main(["counts", "--data", str(REPO / "data")]) == 0
    assert "test  NORMAL 234  PNEUMONIA 390  total 624" in capsys.readouterr().out
