"""The drift alarm (pneumo_core.monitoring): its false-alarm rate, its power, its files and its command."""
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REPO

from pneumo_core.cli import main
from pneumo_core.data.dataset import Item, duplicates_file, patient_groups, read_duplicate_groups
from pneumo_core.monitoring.drift import (MIN_BATCH, DriftReference, DriftReferenceError, build_reference, drift_test,
                                          load_reference, verdict_text)
from pneumo_core.monitoring.mmd import mmd2, rbf_kernel
from pneumo_core.monitoring.site_reference import SITE_SAMPLE_MIN, reference_for, sample_reference

MODELS = ["efficientnet_lite0", "paper_cnn"]
DATASET = REPO.parent / "shared" / "data" / "chest_xray"
D = 64
# anisotropic, like real features: a few strong directions, many weak ones
SD = np.geomspace(3.0, 0.1, D)


def _films(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    x = rng.normal(size=(n, D)) * SD
    x[:, :4] += shift * SD[:4]
    return x


@pytest.fixture(scope="module")
def synthetic_reference() -> DriftReference:
    rng = np.random.default_rng(0)
    return build_reference(_films(rng, 300), rng.normal(size=300), n_permutations=500, model="toy")


def test_same_distribution_batches_are_rarely_flagged(synthetic_reference):
    rng = np.random.default_rng(1)
    flags = [drift_test(synthetic_reference, _films(rng, 50), seed=i)["shifted"] for i in range(100)]
    assert np.mean(flags) <= 0.12  # level 0.05; 100 batches put the rate within about +-0.05


def test_a_shifted_batch_is_flagged_and_the_score_ks_is_reported(synthetic_reference):
    rng = np.random.default_rng(2)
    r = drift_test(synthetic_reference, _films(rng, 50, shift=1.0), logits=rng.normal(size=50) + 2.0)
    assert r["shifted"] and r["p_value"] < 0.01
    assert r["scores_ks"]["p_value"] < 0.01  # the logits moved by two sd as well
    json.dumps(r)  # the result goes straight into the command's output


@pytest.mark.parametrize("n", [0, 1, MIN_BATCH - 1])
def test_batches_below_the_minimum_are_refused(synthetic_reference, n):
    with pytest.raises(ValueError, match=f"at least {MIN_BATCH}"):
        drift_test(synthetic_reference, np.zeros((n, D)))


def test_features_of_another_model_are_refused(synthetic_reference):
    with pytest.raises(DriftReferenceError, match="features per film"):
        drift_test(synthetic_reference, np.zeros((MIN_BATCH, D + 1)))


def test_vectorised_permutations_compute_the_mmd_they_claim():
    rng = np.random.default_rng(3)
    x, y, bw = rng.normal(size=(7, 3)), rng.normal(size=(9, 3)), 1.3
    direct = rbf_kernel(x, x, bw).mean() + rbf_kernel(y, y, bw).mean() - 2 * rbf_kernel(x, y, bw).mean()
    assert mmd2(x, y, bw) == pytest.approx(direct, rel=1e-12)


def test_p_value_is_seeded_and_never_zero(synthetic_reference):
    rng = np.random.default_rng(4)
    batch = _films(rng, 30, shift=3.0)
    a, b = drift_test(synthetic_reference, batch, seed=7), drift_test(synthetic_reference, batch, seed=7)
    assert a == b and a["p_value"] == pytest.approx(1 / 501)


def test_save_load_round_trip_keeps_the_verdict(synthetic_reference, tmp_path):
    ref = synthetic_reference
    ref.meta = {"heldout_files": ["train/NORMAL/a.jpeg"]}
    ref.save(tmp_path)
    back = DriftReference.load(tmp_path)
    batch = _films(np.random.default_rng(5), 40)
    assert drift_test(back, batch) == pytest.approx(drift_test(ref, batch))
    assert back.meta == ref.meta and back.model == "toy" and back.bandwidth == ref.bandwidth


def test_site_sample_replaces_the_validation_reference(synthetic_reference, tmp_path):
    synthetic_reference.save(tmp_path)
    rng = np.random.default_rng(6)
    site_films = _films(rng, 120, shift=1.0)
    labels, groups = [i % 2 for i in range(120)], [f"p{i}" for i in range(120)]
    sample = sample_reference(tmp_path, site_films, None, labels, groups)
    profile = SimpleNamespace(name="hospital-b", drift_reference=json.loads(json.dumps(sample)))
    site = reference_for(tmp_path, profile)
    assert len(site.reference) + len(site.null) == 120 and "hospital-b" in site.source
    batch = _films(rng, 40, shift=1.0)  # like the site's films, unlike validation
    assert not drift_test(site, batch)["shifted"] and drift_test(synthetic_reference, batch)["shifted"]
    assert reference_for(tmp_path, SimpleNamespace(name="x", drift_reference=None)).source == "validation data"
    assert sample_reference(tmp_path / "no-model", site_films, None, labels, groups) is None
    assert reference_for(tmp_path / "no-model") is None


def test_a_site_sample_too_small_to_halve_carries_no_drift_reference(synthetic_reference, tmp_path):
    synthetic_reference.save(tmp_path)
    films = _films(np.random.default_rng(7), SITE_SAMPLE_MIN - 1)
    n = len(films)
    assert sample_reference(tmp_path, films, None, [i % 2 for i in range(n)], [str(i) for i in range(n)]) is None


def test_a_site_sample_from_another_basis_is_refused(synthetic_reference, tmp_path):
    synthetic_reference.save(tmp_path)
    films = _films(np.random.default_rng(8), 100)
    sample = sample_reference(tmp_path, films, None, [i % 2 for i in range(100)], [str(i) for i in range(100)])
    rebuilt = build_reference(_films(np.random.default_rng(9), 300), model="toy")  # a new basis, same model
    rebuilt.save(tmp_path)
    with pytest.raises(DriftReferenceError, match="calibrate the site again"):
        reference_for(tmp_path, SimpleNamespace(name="old", drift_reference=sample))


def _patients(rng: np.random.Generator, n_patients: int, films_each: int = 3) -> np.ndarray:
    """Films in patients: each child's films sit close together, as real films do."""
    centre = rng.normal(size=(n_patients, D)) * SD
    films = centre[:, None, :] + 0.15 * rng.normal(size=(n_patients, films_each, D)) * SD
    return films.reshape(-1, D)


def test_calibrated_null_holds_its_level_on_patient_clustered_films_where_permutations_do_not():
    rng = np.random.default_rng(10)
    ref_films, null_films, held = _patients(rng, 100), _patients(rng, 60), _patients(rng, 60)
    permuted = build_reference(ref_films, whiten=True, n_permutations=300)
    calibrated = build_reference(ref_films, whiten=True, n_permutations=300, null_features=null_films)
    draws = [rng.choice(len(held), 50, replace=False) for _ in range(60)]
    rate = {name: np.mean([drift_test(ref, held[b], seed=i)["shifted"] for i, b in enumerate(draws)])
            for name, ref in (("permuted", permuted), ("calibrated", calibrated))}
    assert rate["calibrated"] <= 0.12 < rate["permuted"]
    shifted = held.copy()
    shifted[:, :4] += 1.0 * SD[:4]
    assert drift_test(calibrated, shifted[draws[0]])["shifted"]


def test_verdict_names_the_reference_and_says_what_to_do():
    calm = verdict_text({"p_value": 0.41, "shifted": False}, "validation data")
    alarm = verdict_text({"p_value": 0.0004, "shifted": True}, "validation data")
    assert calm == "this batch looks like the data the operating point was set on (validation data, p = 0.410)"
    assert "p < 0.001" in alarm and alarm.endswith("calibrate for your site before relying on the calls")


# --- the shipped references ----------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_shipped_reference_keeps_reference_null_pool_and_held_out_patients_apart(model):
    model_dir = REPO / "weights" / model
    ref = load_reference(model_dir)  # raises if built for other weights
    assert ref is not None and ref.model == model
    held, kept, null = ref.meta["heldout_files"], ref.meta["reference_files"], ref.meta["null_files"]
    assert len(kept) == len(ref.reference) and len(null) == len(ref.null) and len(held) >= 100
    val = set(json.loads((model_dir / "split.json").read_text())["val"])
    assert set(held) | set(kept) | set(null) <= val
    assert all(not Path(k).is_absolute() and len(Path(k).parts) == 3 for k in held)  # split/CLASS/file
    assert DATASET.is_dir(), f"the full dataset must sit beside the repository: {DATASET}"  # a failure, never a skip
    assert all((DATASET / k).is_file() for k in held)
    items = [Item(Path(k), ["NORMAL", "PNEUMONIA"].index(Path(k).parent.name)) for k in held + kept + null]
    group = patient_groups(items, read_duplicate_groups(duplicates_file(DATASET)))
    parts = [{group[k] for k in part} for part in (held, kept, null)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]


# --- the command -------------------------------------------------------------------------------
def _copy(files: list[Path], folder: Path) -> Path:
    folder.mkdir()
    for f in files:
        shutil.copy(f, folder / f.name)
    return folder


def test_command_refuses_fewer_than_twenty_films(test_images, tmp_path, capsys):
    folder = _copy(test_images["NORMAL"][:MIN_BATCH - 1], tmp_path / "few")
    assert main(["drift", "--model", "paper_cnn", "--quiet", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(MIN_BATCH) in err[0]


def test_command_refuses_a_model_without_reference_or_unknown(test_images, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(REPO / "weights" / "paper_cnn" / "model.json", bare / "model.json")
    assert main(["drift", "--model", str(bare), str(test_images["NORMAL"][0])]) == 2
    assert "no drift reference" in capsys.readouterr().err
    assert main(["drift", "--model", "no-such-model", str(test_images["NORMAL"][0])]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_command_prints_one_json_object_for_real_films(test_images, tmp_path):
    folder = _copy(test_images["NORMAL"][:12] + test_images["PNEUMONIA"][:12], tmp_path / "batch")
    (folder / "broken.jpeg").write_bytes(b"not an image")
    r = subprocess.run([sys.executable, "-m", "pneumo_core", "drift", "--model", "paper_cnn", "--quiet", str(folder)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 24 and out["unreadable"] == 1 and out["reference"] == "validation data"
    assert 0 < out["p_value"] <= 1 and out["shifted"] == (out["p_value"] < out["level"]) and out["level"] == 0.05
    assert out["verdict"].startswith("this batch")
