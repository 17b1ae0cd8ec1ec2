"""`calibrate-site` and `predict --site`: the command-line contract of site calibration."""
import csv
import json

import pytest
from conftest import run_cli

MODEL = "paper_cnn"  # the cheaper model: these tests check the contract, not the model
N = 12


_run = run_cli


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, test_images):
    """12 films of each class in the folder layout, plus one unreadable file."""
    d = tmp_path_factory.mktemp("site")
    for cls in ("NORMAL", "PNEUMONIA"):
        (d / cls).mkdir()
        for f in test_images[cls][:N]:
            (d / cls / f.name).write_bytes(f.read_bytes())
    (d / "NORMAL" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return d


@pytest.fixture(scope="module")
def profile(labelled, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile") / "st-elsewhere.json"
    r = _run("calibrate-site", "--model", MODEL, "--out", str(out), "--quiet", "--bootstrap", "100", str(labelled))
    assert r.returncode == 0, r.stderr
    return out, r


def test_calibrate_site_writes_a_profile_and_lists_the_unreadable_file(profile):
    out, r = profile
    d = json.loads(out.read_text())
    assert d["name"] == "st-elsewhere" and d["model"] == MODEL
    assert d["counts"] == {"NORMAL": N, "PNEUMONIA": N}
    assert "skipped (unreadable): NORMAL/broken.png" in r.stderr
    assert "wide" in r.stderr  # below 50 per class
    assert "IM-" not in out.read_text() and "person" not in out.read_text()  # no file names in the profile
    assert json.loads(r.stdout)["cross_fitted"]["accuracy"]["value"] > 0.5


def test_fewer_than_ten_films_of_a_class_exit_2_in_one_line(labelled, tmp_path):
    csv_path = tmp_path / "few.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        for f in sorted((labelled / "NORMAL").glob("*.jpeg"))[:9]:
            w.writerow([str(f), "NORMAL"])
        for f in sorted((labelled / "PNEUMONIA").glob("*.jpeg")):
            w.writerow([str(f), "PNEUMONIA"])
    r = _run("calibrate-site", "--model", MODEL, "--out", str(tmp_path / "p.json"), "--quiet", str(csv_path))
    assert r.returncode == 2 and not (tmp_path / "p.json").exists()
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "at least 10" in errors[0]


def test_a_folder_without_class_subfolders_is_refused(tmp_path):
    r = _run("calibrate-site", "--model", MODEL, "--out", str(tmp_path / "p.json"), str(tmp_path))
    assert r.returncode == 2 and "NORMAL/ and PNEUMONIA/" in r.stderr


def test_predict_with_a_site_changes_probability_and_threshold_and_names_the_site(profile, test_images):
    out, _ = profile
    film = str(test_images["NORMAL"][-1])
    plain = json.loads(_run("predict", "--quiet", "--model", MODEL, film).stdout)
    site = json.loads(_run("predict", "--quiet", "--model", MODEL, "--site", str(out), film).stdout)
    assert sorted(plain) == sorted(["file", "status", "probability", "label", "threshold", "model", "warnings", "error"])
    assert sorted(site) == sorted([*plain, "site"]) and site["site"] == "st-elsewhere"
    assert site["threshold"] == 0.5 and plain["threshold"] != 0.5
    assert site["probability"] != pytest.approx(plain["probability"], abs=1e-6)
    screening = json.loads(_run("predict", "--quiet", "--model", MODEL, "--site", str(out), "--threshold", "screening",
                                film).stdout)
    assert screening["threshold"] == pytest.approx(0.2)


def test_a_profile_for_other_weights_is_refused(profile, tmp_path, test_images):
    out, _ = profile
    d = json.loads(out.read_text())
    d["model_sha256"] = "0" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(d))
    r = _run("predict", "--quiet", "--model", MODEL, "--site", str(other), str(test_images["NORMAL"][0]))
    assert r.returncode == 2 and r.stdout == "" and "calibrate the site again" in r.stderr
    r = _run("predict", "--quiet", "--model", MODEL, "--site", "no-such-site", str(test_images["NORMAL"][0]))
    assert r.returncode == 2 and "no site profile" in r.stderr


def test_evaluate_with_a_site_reports_the_sites_thresholds_and_name(profile, labelled, tmp_path):
    out, _ = profile
    data = tmp_path / "data"
    for cls in ("NORMAL", "PNEUMONIA"):  # the readable films only: evaluate refuses a split it cannot read
        (data / "test" / cls).mkdir(parents=True)
        for f in (labelled / cls).glob("*.jpeg"):
            (data / "test" / cls / f.name).write_bytes(f.read_bytes())
    r = _run("evaluate", "--model", MODEL, "--data", str(data), "--site", str(out), "--bootstrap", "50",
             "--out", str(tmp_path / "ev.json"))
    assert r.returncode == 0, r.stderr
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["site"] == "st-elsewhere" and ev["thresholds"] == {"balanced": 0.5, "screening": pytest.approx(0.2)}
    assert ev["n"] == 2 * N


def test_making_a_profile_is_audited_under_the_cli_user_without_file_names(profile, audit_trail_in_a_temporary_file):
    from pneumo_core.audit import AuditLog
    made = [r for r in AuditLog(audit_trail_in_a_temporary_file).records() if r["action"] == "profile_made"]
    saved = json.loads(profile[0].read_text())
    assert made and made[-1]["user"].startswith("cli:")
    assert made[-1]["ids"] == {"count": 2 * N, "model": MODEL, "site_sha256": saved["files_sha256"]}
    assert "IM-" not in audit_trail_in_a_temporary_file.read_text()
