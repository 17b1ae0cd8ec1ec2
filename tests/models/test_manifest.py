"""The bundle manifest and `verify`: every kind of bundle file, corrupted in a copy, is named in
one line and fails the command; the shipped bundles verify clean (a regenerated artifact that
its writer did not record would fail here)."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from pneumo_core.cli import main
from pneumo_core.models.bundle import WEIGHTS_DIR, list_models
from pneumo_core.models.manifest import BUNDLE_FILES, MANIFEST, verify_bundle, write_manifest

MODEL = "paper_cnn"  # the smaller bundle to copy


@pytest.fixture
def bundle(tmp_path):
    d = tmp_path / MODEL
    shutil.copytree(WEIGHTS_DIR / MODEL, d)
    return d


def _one_of_each_kind(d):
    return [next(iter(sorted(d.glob(f.pattern)))).relative_to(d).as_posix() for f in BUNDLE_FILES if any(d.glob(f.pattern))]


@pytest.mark.parametrize("model", list_models())
def test_the_shipped_bundles_verify_clean(model):
    assert verify_bundle(WEIGHTS_DIR / model) == []


def test_the_copy_used_below_holds_every_required_kind_of_file(bundle):
    present = _one_of_each_kind(bundle)
    assert {f.pattern for f in BUNDLE_FILES if f.required} <= {f.pattern for f in BUNDLE_FILES
                                                                if any(bundle.glob(f.pattern))}
    assert len(present) >= 12


def test_one_flipped_byte_in_any_file_is_named_and_fails_verify(bundle, capsys):
    for rel in _one_of_each_kind(bundle):
        path = bundle / rel
        original = path.read_bytes()
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        problems = verify_bundle(bundle)
        assert problems and all(p.startswith(rel) or p.startswith("model.") for p in problems), (rel, problems)
        assert any(p.startswith(rel) for p in problems), (rel, problems)
        assert main(["verify", "--model", str(bundle)]) == 1
        path.write_bytes(original)
    assert verify_bundle(bundle) == []
    capsys.readouterr()


@pytest.mark.parametrize("rel", [f.pattern for f in BUNDLE_FILES if f.required])
def test_a_missing_required_file_is_named(bundle, rel):
    (bundle / rel).unlink()
    problems = verify_bundle(bundle)
    assert f"{rel}: missing" in problems


def test_a_file_made_for_other_weights_fails_even_with_a_fresh_manifest(bundle):
    ref = bundle / "drift_reference.json"
    record = json.loads(ref.read_text())
    record["model_sha256"] = "0" * 64
    ref.write_text(json.dumps(record))
    write_manifest(bundle)  # as if a command had written it: the hash matches, the binding does not
    assert verify_bundle(bundle) == ["drift_reference.json: made for other weights (its model_sha256 is not model.pt's)"]


def test_an_npz_bound_to_other_weights_is_found(bundle):
    path = bundle / "orientation.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["model_sha256"] = np.array("f" * 64)
    np.savez(path, **arrays)
    write_manifest(bundle)
    assert verify_bundle(bundle) == ["orientation.npz: made for other weights (its model_sha256 is not model.pt's)"]


def test_a_missing_or_foreign_manifest_is_a_problem(bundle):
    (bundle / MANIFEST).unlink()
    assert verify_bundle(bundle) == [f"{MANIFEST}: missing"]
    write_manifest(bundle)
    m = json.loads((bundle / MANIFEST).read_text())
    m["model_sha256"] = "1" * 64
    (bundle / MANIFEST).write_text(json.dumps(m))
    assert verify_bundle(bundle) == [f"{MANIFEST}: written for other weights"]


def test_a_file_added_by_hand_is_not_in_the_manifest(bundle):
    shutil.copy(bundle / "sites" / "kermany-test.json", bundle / "sites" / "copied.json")
    assert verify_bundle(bundle) == [f"sites/copied.json: not in {MANIFEST} (written by hand?)"]


def test_verify_command_exits_0_and_non_zero_with_one_line_per_problem(bundle):
    ok = subprocess.run([sys.executable, "-m", "pneumo_core", "verify", "--model", str(bundle)], cwd=REPO,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    (bundle / "ood.npz").write_bytes(b"not an npz")
    (bundle / "history.json").unlink()
    bad = subprocess.run([sys.executable, "-m", "pneumo_core", "verify", "--model", str(bundle)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert sorted(lines) == sorted([f"{MODEL}/history.json: missing", f"{MODEL}/history.json: listed in {MANIFEST} but missing",
                                    f"{MODEL}/ood.npz: changed since its writer recorded it (sha256 differs from {MANIFEST})",
                                    f"{MODEL}/ood.npz: unreadable as npz"])
