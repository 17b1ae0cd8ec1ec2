"""`adapt-site`, and its profile wherever a profile goes: `predict --site`, `calibrate-site
--adapted`, `verify`. The contract on the cheaper model."""
import json

import numpy as np
import pytest
from conftest import run_cli

from pneumo_core.adaptation.method import MIN_FILMS

MODEL = "paper_cnn"


_run = run_cli


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory, test_images):
    d = tmp_path_factory.mktemp("north")
    for i, f in enumerate(test_images["NORMAL"][100:165] + test_images["PNEUMONIA"][100:100 + MIN_FILMS - 60]):
        (d / f"{i:03d}.jpeg").write_bytes(f.read_bytes())
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return d


@pytest.fixture(scope="module")
def adapted(site_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("profiles") / "north.json"
    r = _run("adapt-site", "--model", MODEL, "--out", str(out), "--quiet", str(site_folder))
    assert r.returncode == 0, r.stderr
    return out, r


def test_adapt_site_writes_a_profile_and_says_which_film_it_did_not_use(adapted):
    out, r = adapted
    summary = json.loads(r.stdout)
    assert summary["films"] + summary["not_used"] == MIN_FILMS + 6 and "broken.png" in r.stderr
    d = json.loads(out.read_text())
    assert d["name"] == "north" and d["adaptation"]["films"] == summary["films"]
    assert d["counts"] == {"NORMAL": 0, "PNEUMONIA": 0}


def test_predict_scores_under_the_adapted_profile(adapted, test_images):
    """The default method moves the operating point only (a score mixture: no layer re-estimated),
    so the profile's P is its written recalibration of the model's own logit, called at its threshold."""
    out, _ = adapted
    films = [str(f) for f in test_images["NORMAL"][:2] + test_images["PNEUMONIA"][:2]]
    lines = [[json.loads(line) for line in _run("predict", "--model", MODEL, *site, "--format", "jsonl",
                                                *films).stdout.splitlines()] for site in ([], ["--site", str(out)])]
    d = json.loads(out.read_text())
    assert not (d["adaptation"] or {}).get("layers")  # else the network is the profile's own, and this does not hold
    a, b, threshold = d["intercept"], d["slope"], d["thresholds"][d["default_threshold"]]
    for source, site in zip(*lines):
        x = np.log(source["probability"]) - np.log1p(-source["probability"])  # the model's own (source-calibrated) logit
        assert site["site"] == "north" and site["probability"] == pytest.approx(1 / (1 + np.exp(-(a + b * x))), abs=1e-9)
        assert site["threshold"] == pytest.approx(threshold) and site["probability"] != pytest.approx(
            source["probability"], abs=1e-4)
        assert site["label"] == ("PNEUMONIA" if site["probability"] >= threshold else "NORMAL")


def test_calibrate_site_on_top_of_an_adapted_profile_keeps_the_adaptation(adapted, tmp_path, test_images):
    out, _ = adapted
    for cls in ("NORMAL", "PNEUMONIA"):
        (tmp_path / "labelled" / cls).mkdir(parents=True)
        for f in test_images[cls][200:212]:
            (tmp_path / "labelled" / cls / f.name).write_bytes(f.read_bytes())
    both = tmp_path / "north-labelled.json"
    r = _run("calibrate-site", "--model", MODEL, "--adapted", str(out), "--out", str(both), "--quiet",
             "--bootstrap", "50", str(tmp_path / "labelled"))
    assert r.returncode == 0, r.stderr
    d = json.loads(both.read_text())
    assert d["adaptation"] == json.loads(out.read_text())["adaptation"]
    assert d["counts"]["NORMAL"] >= 10 and d["counts"]["PNEUMONIA"] >= 10  # the gate may withhold a film or two


def test_too_few_films_exit_2_in_one_line(tmp_path, test_images):
    for f in test_images["NORMAL"][:3]:
        (tmp_path / f.name).write_bytes(f.read_bytes())
    r = _run("adapt-site", "--model", MODEL, "--out", str(tmp_path / "p.json"), "--quiet", str(tmp_path))
    assert r.returncode == 2 and f"at least {MIN_FILMS}" in r.stderr and not (tmp_path / "p.json").exists()
    assert len([line for line in r.stderr.splitlines() if line.startswith("error:")]) == 1


def test_the_drift_alarm_runs_again_under_the_adapted_profile(adapted, site_folder):
    """`drift --site` on the batch the profile was made on: the adapted model's features against
    the model's own validation reference (an adapted profile carries no sample). The default
    method re-estimates no layer, so those features are the model's own: the same test, the
    same numbers, as `drift` without the profile; every readable film is in it."""
    out, made = adapted
    verdicts = []
    for site in (["--site", str(out)], []):
        r = _run("drift", "--model", MODEL, *site, "--quiet", str(site_folder))
        assert r.returncode == 0, r.stderr
        verdicts.append(json.loads(r.stdout))
    on_site, own = verdicts
    assert not (json.loads(out.read_text())["adaptation"] or {}).get("layers")
    assert (on_site["statistic"], on_site["p_value"], on_site["shifted"]) == (own["statistic"], own["p_value"],
                                                                             own["shifted"])
    assert on_site["n"] + on_site["unreadable"] == len(list(site_folder.iterdir()))
    assert on_site["n"] == json.loads(made.stdout)["films"]  # the films adapt-site used: the same gate


def _labels(r) -> dict[str, str]:
    from pathlib import Path
    return {Path(rec["file"]).name: rec["label"] for rec in map(json.loads, r.stdout.splitlines()) if rec["label"]}


def test_the_calls_adapt_site_says_changed_are_the_ones_predict_changes_with_the_profile(adapted, site_folder):
    """What changed, said by adapt-site, against the product's own calls: `predict` on the same
    films without and with `--site` (a list drawn from other numbers would differ here)."""
    from pathlib import Path
    out, r = adapted
    summary = json.loads(r.stdout)
    before = _run("predict", "--model", MODEL, "--format", "jsonl", str(site_folder))
    after = _run("predict", "--model", MODEL, "--site", str(out), "--format", "jsonl", str(site_folder))
    a, b = _labels(before), _labels(after)
    flipped = sorted(f for f in a if f in b and a[f] != b[f])
    assert sorted(Path(c["file"]).name for c in summary["changed"]) == flipped
    assert summary["calls_changed"] == len(flipped)
    assert all((c["before"], c["after"]) == (a[Path(c["file"]).name], b[Path(c["file"]).name])
               for c in summary["changed"])
    lines = [line for line in r.stderr.splitlines() if line.startswith("calls changed: ")]
    assert lines == [lines[0]] and lines[0].startswith(f"calls changed: {len(flipped)} of ")
    assert sum(line.startswith("  ") and " -> " in line for line in r.stderr.splitlines()) == len(flipped)
