"""The README and docs/model-development.md quote numbers; each must be the one its artifact holds.

Every check reads the figure from the file that produced it (`weights/*/model.json`,
`weights/*/selection.json`, `weights/*/eval_*.json`, `weights/*/site_study_test.json`,
`benchmarks/results/*.json`) and looks for it in the prose, so a re-run that moves a number
fails here until the prose follows. Rules are taken from the library, never re-implemented.
"""
import json
import re
from pathlib import Path

import pytest
from conftest import REPO

from pneumo_core.models.bundle import list_models

README = REPO / "README.md"
HISTORY = REPO / "docs" / "model-development.md"
MODELS = list_models()
DEFAULT = "efficientnet_lite0"


def _flat(path: Path) -> str:
    """The text with line breaks and runs of spaces made single spaces: wrapping does not matter."""
    return " ".join(path.read_text().split())


def _json(*parts: str) -> dict:
    return json.loads(REPO.joinpath(*parts).read_text())


# --- README.md: a page for users -------------------------------------------------------------

def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    head = text.split("```")[1]
    assert "make run" in head and "make test" in head
    assert text.index("```") < text.index("\n## "), "the commands must come before the first section"


def test_readme_is_at_most_200_lines():
    n = len(README.read_text().splitlines())
    assert n <= 200, f"README.md has {n} lines: history and engineering detail belong in docs/model-development.md"


_PATH = re.compile(r"(?<![\w/.:-])((?:docs|weights|benchmarks|pneumo_core|scripts|examples|data|pages|tests)/[^\s`)\],;]*)")


def _mentioned_paths(text: str) -> set[str]:
    """Repo-relative paths in inline code spans and link targets (fenced blocks are commands)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", text) + re.findall(r"\]\(([^)\s]+)\)", text)
    return {m.split("#")[0].rstrip(".:") for span in spans for m in _PATH.findall(span)}


def test_readme_mentions_only_paths_that_exist():
    paths = _mentioned_paths(README.read_text())
    assert {"docs/model-development.md", "docs/screenshots/diagnose.png", "weights/<model>/"} <= paths, \
        "the path pattern no longer finds the README's links"
    missing = []
    for p in sorted(paths):
        for concrete in ([p.replace("<model>", m) for m in MODELS] if "<model>" in p else [p]):
            if not (any(REPO.glob(concrete)) if "*" in concrete else (REPO / concrete).exists()):
                missing.append(concrete)
    assert not missing, f"README mentions paths that do not exist: {missing}"


def test_readme_screenshots_are_pngs_under_400_kb():
    shots = re.findall(r"!\[[^\]]*\]\((docs/screenshots/[^)]+)\)", README.read_text())
    assert {"docs/screenshots/diagnose.png", "docs/screenshots/evaluation.png"} <= set(shots)
    for shot in shots:
        data = (REPO / shot).read_bytes()
        assert data.startswith(b"\x89PNG"), shot
        assert len(data) <= 400 * 1024, f"{shot} is {len(data) // 1024} KB: re-run scripts/screenshots.py"


def _table(marker: str) -> str:
    """The README's table between `<!-- marker -->` and `<!-- /marker -->`."""
    found = re.search(rf"<!-- {marker} -->\n(.*?)\n<!-- /{marker} -->", README.read_text(), re.S)
    assert found, f"README lost its {marker} markers"
    return found.group(1).strip()


def test_readme_results_table_matches_shipped_eval_files():
    from pneumo_core.evaluation.results import results_markdown
    assert _table("results-table") == results_markdown().strip(), \
        "README table is stale: paste `python -m pneumo_core models --markdown`"


def test_readme_site_table_matches_shipped_site_studies():
    from pneumo_core.evaluation.results import site_results_markdown
    assert _table("site-results-table") == site_results_markdown().strip(), \
        "README site table is stale: paste `python -m pneumo_core models --markdown --table site`"


def test_readme_adapt_table_and_protocol_match_the_adaptation_study():
    from pneumo_core.evaluation.results import adapt_results_markdown
    assert _table("adapt-results-table") == adapt_results_markdown().strip(), \
        "README adaptation table is stale: paste `python -m pneumo_core models --markdown --table adapted`"
    study = _json("weights", DEFAULT, "adapt_study_test.json")
    assert f"({study['draws']} draws of 100 films per prevalence)" in _flat(README)
    assert "until the draw holds 100 films at that prevalence" in study["protocol"]
    fitted = next(m for m in study["summary"]["clean"]["0.1"] if m != "none")
    assert f"giving up at most {fitted.rsplit('give', 1)[1]} of sensitivity" in _flat(README)


def test_readme_site_protocol_is_the_one_the_studies_ran():
    """The protocol paragraph's draws, minimum per class and folds are the recorded study's and the library's."""
    from pneumo_core.calibration.site import MIN_PER_CLASS
    text = _flat(README)
    for name in MODELS:
        study = _json("weights", name, "site_study_test.json")
        assert f"{study['repeats']} draws of whole patients" in text, name
        assert f"at least {MIN_PER_CLASS} films of each class" in study["protocol"], name
        assert f"at least {MIN_PER_CLASS} films of each class" in text
        folds = re.search(r"(\d+) patient-grouped folds", study["protocol"]).group(1)
        assert f"({folds} patient-grouped folds)" in text, name


def test_readme_drift_figures_come_from_drift_rates_json():
    text = _flat(README)
    runs = _json("benchmarks", "results", "drift_rates.json")["models"]
    for kind in ("false_alarm", "detection"):
        quoted = ", ".join(f"{100 * m[kind]['rate']:.1f}% (`{m['model']}`)" for m in runs)
        assert quoted in text, f"README's drift {kind} figures differ from drift_rates.json: {quoted}"


def test_readme_headline_figures_come_from_eval_and_ood_files():
    """The test split's size, the default model's ROC-AUC and specificity, and the OOD rates the
    README quotes in prose are the shipped files' ones."""
    text = _flat(README)
    ev = _json("weights", DEFAULT, "eval_test.json")
    c = ev["counts"]
    assert f"{ev['n']} images ({c['NORMAL']} NORMAL, {c['PNEUMONIA']} PNEUMONIA; {ev['prevalence']:.1%} pneumonia)" in text
    patients = re.search(r"\((\d+) in this split\)", ev["bootstrap"]).group(1)
    assert f"1000 resamples of whole patients ({patients} in the test split)" in text
    m = ev["metrics"][ev["default_threshold"]]
    assert f"ROC-AUC {m['roc_auc']['value']:.3f}" in text
    assert text.count(f"specificity {m['specificity']['value']:.2f}") >= 2  # results and limits
    train = _json("weights", DEFAULT, "model.json")["train_counts"]
    assert f"Train is {train['PNEUMONIA'] / sum(train.values()):.0%} pneumonia, test {ev['prevalence']:.1%}" in text
    ood = next(r for r in _json("benchmarks", "results", "ood_rates.json")["models"] if r["model"] == DEFAULT)
    t, n = ood["test_radiographs"], ood["non_radiographs"]
    assert f"flags {t['flagged']} of the {t['n']} test radiographs and {n['flagged']} of {n['n']} non-radiographs" in text


# --- docs/model-development.md: the history, with its numbers ----------------------------------

def test_history_cites_no_commit_hashes():
    """The story is told without commit hashes: they rot when history is rewritten."""
    hashes = [h for h in re.findall(r"\b[0-9a-f]{7,40}\b", HISTORY.read_text())
              if re.search(r"[a-f]", h) and re.search(r"\d", h)]
    assert not hashes, hashes


def test_history_split_counts_come_from_model_json():
    text = _flat(HISTORY)
    for name in MODELS:
        meta = _json("weights", name, "model.json")
        v, t = meta["validation_counts"], meta["train_counts"]
        assert (f"Validation: {v['NORMAL']} NORMAL + {v['PNEUMONIA']} PNEUMONIA; "
                f"training: {t['NORMAL']} + {t['PNEUMONIA']}") in text, name


def test_history_gpu_training_times_come_from_model_json():
    text = _flat(HISTORY)
    records = [_json("weights", name, "model.json")["training"] for name in MODELS]
    assert all(r["hardware"] == "NVIDIA H200" for r in records)
    assert "trained on an NVIDIA H200" in text
    assert "(recorded in `model.json`: " + " and ".join(f"{r['wall_seconds']:.0f} s" for r in records) + ")" in text


def test_history_flip_figures_come_from_model_json():
    text = _flat(HISTORY)
    for name in MODELS:
        d = _json("weights", name, "model.json")["hflip_decision"]
        loss = d["best_val_loss"]
        assert f"{loss['hflip_off']:.4f} → {loss['hflip_on']:.4f}" in text, name
        assert d["hflip"] is False, "the history says flips are off"
    assert "so they are off" in text


def test_history_model_selection_figures_come_from_selection_json():
    """Every candidate's mean shifted-validation loss quoted is the recorded one, the record
    follows the library's selection rule, and the chosen candidate is the lowest."""
    from pneumo_core.evaluation.robustness import SELECTION_RULE
    text = _flat(HISTORY)
    selection = _json("weights", DEFAULT, "selection.json")
    assert selection["rule"] == SELECTION_RULE
    for rnd in selection["rounds"]:
        assert rnd["chosen"] in rnd["candidates"]
        for name, losses in rnd["candidates"].items():
            assert f"{losses['mean']:.4f}" in text, f"history misses {name}'s mean loss {losses['mean']:.4f}"
            assert f"{losses['clean']:.4f}" in text, f"history misses {name}'s clean loss {losses['clean']:.4f}"
            assert losses["mean"] >= rnd["candidates"][rnd["chosen"]]["mean"], "the rule keeps the lowest mean"


def test_history_calibration_choice_is_the_librarys_rule_on_the_recorded_scores(monkeypatch):
    """The held-out figures quoted are the recorded ones, and the recorded choice (clean or
    pooled) is what `choose_operating_point` decides when handed the recorded held-out scores."""
    import numpy as np

    from pneumo_core.calibration import shift

    text = _flat(HISTORY)
    assert f"by more than {shift.MARGIN:.0%} on average over the shifts" in text
    assert "`CALIBRATION_RULE` in `shift.py`" in text
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 20)
    for name in MODELS:
        cal = _json("weights", name, "model.json")["calibration"]
        assert cal["rule"] == shift.CALIBRATION_RULE, name
        loss = {w: v["balanced_log_loss"] for w, v in cal["mean_held_out"].items()}
        acc = {w: v["balanced_accuracy"] for w, v in cal["mean_held_out"].items()}
        assert f"{cal['mean_relative_loss_change']:+.1%}" in text, name
        assert f"{loss['clean']:.4f} → {loss['pooled']:.4f}" in text, name
        if cal["mean_relative_loss_change"] < 0:  # the loss alone favoured pooling: the history says what stopped it
            assert f"{acc['clean']:.4f} → {acc['pooled']:.4f}" in text, name
        record = {k: cal[k] for k in ("folds", "image_folds", "mean_held_out", "mean_relative_loss_change")}
        monkeypatch.setattr(shift, "leave_one_shift_out", lambda *a, **k: record)
        conds = {k: rng.normal(labels * 3.0, 1.0) for k in ["clean", *cal["folds"]]}
        _, decided = shift.choose_operating_point(conds, labels)
        assert (decided["fitted_on"] == ["clean"]) == (cal["fitted_on"] == ["clean"]), name


def test_history_cpu_training_time_is_the_measured_one():
    """The 120-minute budget is shown by a measured run, recorded in model.json and the benchmark file alike."""
    text = _flat(HISTORY)
    measured = _json("benchmarks", "results", "train_cpu_full.json")
    for arch, run in measured.items():
        meta = _json("weights", arch, "model.json")
        assert meta["training"]["cpu_time"]["measured_minutes_for_documented_command"] == run["measured_minutes"]
        assert f"{run['measured_minutes']} minutes" in text and run["measured_minutes"] <= 120
        if run["epochs_run"] < meta["training"]["config"]["epochs"]:  # stopped early: the full-length estimate too
            assert f"{run['minutes_without_early_stop']} minutes" in text and run["minutes_without_early_stop"] <= 120
            assert meta["training"]["cpu_time"]["minutes_without_early_stop"] == run["minutes_without_early_stop"]
            best = run["epoch_val_loss"][run["best_epoch"] - 1]
            assert f"best epoch {run['best_epoch']}, validation loss {best:.3f}" in text
            assert best == min(run["epoch_val_loss"]), "the kept epoch is the one with the lowest validation loss"
        assert "NVIDIA" not in run["hardware"] and len(run["epoch_seconds"]) == run["epochs_run"]
        val = run["validation_balanced"]  # the run's validation figures quoted, and the shipped model's
        shipped = {k: v["balanced"] for k, v in meta["validation"].items()}
        for figures in (val, shipped):
            assert f"{figures['roc_auc']:.4f}" in text
            assert f"{figures['recall']:.3f}" in text and f"{figures['specificity']:.3f}" in text


def test_history_test_split_figures_come_from_eval_files():
    """Why the operating point over-calls: the test and validation figures quoted are the evaluations'."""
    text = _flat(HISTORY)
    ev = _json("weights", DEFAULT, "eval_test.json")
    m = ev["metrics"][ev["default_threshold"]]
    auc = m["roc_auc"]
    assert f"ROC-AUC {auc['value']:.3f}, 95% CI {auc['ci_low']:.3f}–{auc['ci_high']:.3f}" in text
    assert (f"specificity {m['specificity']['value']:.2f}, accuracy {m['accuracy']['value']:.3f}, "
            f"ECE {m['ece']['value']:.3f}") in text
    assert f"sensitivity {m['recall']['value']:.3f}" in text
    val = _json("weights", DEFAULT, "eval_val.json")["metrics"]["balanced"]
    assert f"validation ROC-AUC {val['roc_auc']['value']:.4f}" in text


def test_history_speed_table_comes_from_inference_json():
    """The speed table and speed-up are the last `python benchmarks/bench_inference.py` run's."""
    text = _flat(HISTORY)
    bench = _json("benchmarks", "results", "inference.json")
    for name, p in bench["pipelines"].items():
        row = (f"| {p['predict']['median_ms']:.1f} ms | {p['predict_gradcam']['median_ms']:.1f} ms | "
               f"{p['batch']['images_per_s']:.0f} images/s | {p['memory_mb']['peak_rss'] / 1000:.2f} GB |")
        assert row in text, f"the speed row for {name} is stale: re-run the benchmark and paste its figures"
    ratio = bench["ratios_reference_over_ours"][DEFAULT]
    assert (f"predict + Grad-CAM is {ratio['predict_gradcam_latency']:.0f}× faster than the reference "
            f"({ratio['predict_gradcam_latency_both_with_gradient_cut']:.0f}× when") in text


def test_history_saliency_table_comes_from_inference_json():
    text = _flat(HISTORY).replace("−", "-")  # the table writes minus signs typographically
    checks = _json("benchmarks", "results", "inference.json")["saliency_checks"]
    for name, c in checks.items():
        d, r = c["deletion"], c["randomisation"]
        row = re.search(rf"\| `{name}` \| ([^|]+) \| ([^|]+) / ([^|]+) \| ([^|]+) / ([^|]+) \| ([^|]+) \|", text)
        assert row, f"the saliency table lost its row for {name}"
        quoted = [float(x) for x in row.groups()]
        recorded = [r["mean_spearman"], d["mean_prob_drop_top"], d["mean_logit_drop_top"], d["mean_prob_drop_random"],
                    d["mean_logit_drop_random"], d["mean_logit_drop_bottom"]]
        for q, v in zip(quoted, recorded):
            assert q == pytest.approx(v, abs=0.006 if abs(v) < 1 else 0.06), f"{name}: quoted {q}, recorded {v}"
        assert "(ρ ≪ 0.5)" in text and r["mean_spearman"] < 0.5
    top = checks[DEFAULT]["deletion"]
    wins = round(top["share_top_beats_random"] * top["n"])
    assert f"the top region wins on {wins} of {top['n']} images" in text


def test_history_ood_figures_come_from_ood_rates_json():
    text = _flat(HISTORY)
    for r in _json("benchmarks", "results", "ood_rates.json")["models"]:
        t, n = r["test_radiographs"], r["non_radiographs"]
        assert f"{t['flagged']} of {'the ' if r['model'] == DEFAULT else ''}{t['n']}" in text, r["model"]
        assert f"{n['flagged']} of {n['n']} " in text and f"({100 * n['rate']:.1f}%" in text, r["model"]
        assert f"({100 * t['rate']:.2f}%)" in text, r["model"]


# --- docs/ -------------------------------------------------------------------------------------

def test_docs_index_links_every_page():
    index = (REPO / "docs" / "README.md").read_text()
    pages = sorted(p.name for p in (REPO / "docs").glob("*.md") if p.name != "README.md")
    assert pages, "docs/ has no pages"
    missing = [p for p in pages if f"]({p})" not in index]
    assert not missing, f"docs/README.md does not link {missing}"


def test_readme_input_gate_figures_come_from_input_gate_json():
    gate = next(r for r in _json("benchmarks", "results", "input_gate.json")["models"] if r["model"] == DEFAULT)
    w, nr, tr = gate["test_upright"]["withheld"], gate["non_radiographs"]["withheld"], gate["transformed_issue_pooled"]
    text = _flat(README)
    assert f"{w['count']} of {w['n']} test films withheld" in text
    assert (f"of {tr['detected']['n']:,} turned or inverted test films {100 * tr['detected']['rate']:.1f}% caught, "
            f"{100 * tr['corrected']['rate']:.1f}% corrected") in text
    assert f"{nr['count']} of {nr['n']} non-radiographs withheld" in text


def test_readme_saliency_figures_come_from_the_faithfulness_benchmark():
    from pneumo_core.inference.saliency_default import default_method
    lite = _json("benchmarks", "results", "saliency_faithfulness.json")["models"][DEFAULT]
    c, n = lite["candidates"], lite["films"]
    wins = {k: (v["flat"]["wins"], v["infill"]["wins"]) for k, v in c.items()}
    text = _flat(README)
    assert default_method(DEFAULT) == "layercam-occ3" == lite["choice"]["default_method"]
    passes = c["layercam-occ3@_blocks.4"]["passes"]
    assert f"**LayerCAM at its third stage, pooled to a 14×14 grid and weighted by a 3×3 occlusion** ({passes} forward-pass equivalents)" in text
    assert "this one does so on {} and {} of {}".format(*wins["layercam-occ3@_blocks.4"], n) in text
    cost = c["occlusion14"]["median_seconds_per_film"] / c["layercam-occ3@_blocks.4"]["median_seconds_per_film"]
    assert "still in the sidebar, on {} and {} at {}× the cost".format(*wins["occlusion14"], int(cost)) in text
    assert "Grad-CAM at the last block on {} and {}".format(*wins["gradcam@head_act"]) in text
    assert all(v[p]["drop_ratio"] < 3 for v in c.values() for p in ("flat", "infill"))
    assert "No map, exact occlusion included, reached the rule's second floor (a drop 3× that" in text


def test_readme_pacs_figures_come_from_the_throughput_benchmark():
    rows = {r["side_px"]: r for r in _json("benchmarks", "results", "pacs_throughput.json")["results"]}
    small, large = rows[224], rows[2048]
    text = _flat(README)
    assert (f"{small['dicomweb']['images_per_s']:.1f} vs {small['files']['images_per_s']:.1f} films/s for 224 px films, "
            f"{large['dicomweb']['images_per_s']:.1f} vs {large['files']['images_per_s']:.1f} for 8 MB 2048 px films") in text
    assert f"peak memory {large['dicomweb']['rss_peak_mb']:.0f} vs {large['files']['rss_peak_mb']:.0f} MB" in text
    night = 3000 / large["dicomweb"]["images_per_s"] / 60  # minutes for a night's films at the measured 8 MB rate
    assert f"night of 3,000 chest films is a job of about {night:.0f} minutes" in text


def test_pacs_doc_table_comes_from_the_throughput_benchmark():
    rows = _json("benchmarks", "results", "pacs_throughput.json")["results"]
    doc = (REPO / "docs" / "pacs.md").read_text()
    for r in rows:
        f, d = r["files"], r["dicomweb"]
        assert (f"| {f['images_per_s']:.1f} images/s | {d['images_per_s']:.1f} images/s | "
                f"{r['throughput_ratio_dicomweb_over_files']:.2f} | {f['rss_peak_mb']:.0f} MB | "
                f"{d['rss_peak_mb']:.0f} MB |") in doc


def test_readme_app_timings_come_from_the_browser_benchmark():
    serve = _json("benchmarks", "results", "app_timings.json")["summary"]["serve"]
    text = _flat(README)
    assert (f"the sidebar is complete {serve['page_to_sidebar_s']:.1f} s after the page loads and the first result "
            f"shows {serve['upload_to_result_s']:.1f} s after upload, the film with its heatmap "
            f"{serve['upload_to_viewer_s']:.1f} s") in text
    assert serve["external_hosts"] == [] and "the browser requests nothing from any other host" in text


def test_saliency_doc_oracle_figures_come_from_the_oracle_run():
    """The second floor's reachability, as docs/saliency.md states it, is the recorded search's."""
    oracle = _json("benchmarks", "results", "saliency_oracle.json")
    exact = _json("benchmarks", "results", "saliency_faithfulness.json")["models"][DEFAULT]["candidates"]["occlusion14"]
    text = _flat(REPO / "docs" / "saliency.md")
    for fill in ("flat", "infill"):
        s = oracle["summary"][fill]
        assert (f"| {fill} | {s['mean_oracle_drop']:.2f} | {s['mean_random_drop']:.2f} | {s['drop_ratio']:.1f}x | "
                f"{s['films_at_3x']}/{oracle['films']} |") in (REPO / "docs" / "saliency.md").read_text()
        # the same films and baselines (the search ran on a GPU: float rounding differs in the 4th digit)
        assert s["mean_random_drop"] == pytest.approx(exact[fill]["mean_random_drop"], rel=1e-3)
        assert s["drop_ratio"] >= 3 > exact[fill]["drop_ratio"]
    assert f"({exact['flat']['mean_top_drop']:.2f} flat, {exact['infill']['mean_top_drop']:.2f} infill)" in text


def test_saliency_doc_comparison_tables_are_the_benchmarks_own():
    """docs/saliency.md shows what `saliency_faithfulness.py --table-only` prints from the JSON."""
    import subprocess
    import sys
    printed = subprocess.run([sys.executable, "benchmarks/saliency_faithfulness.py", "--table-only"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.strip()
    assert "| layercam-occ3@_blocks.4 |" in printed and printed in (REPO / "docs" / "saliency.md").read_text()


def test_saliency_doc_speed_figures_and_thread_policies_come_from_inference_json():
    bench = _json("benchmarks", "results", "inference.json")
    lite, cli = bench["pipelines"][DEFAULT], bench["cli_predict_cam"]
    targets = bench["targets"]
    text = _flat(REPO / "docs" / "saliency.md")
    verdict = {True: "**met**", False: "**not met**"}
    assert (f"in-process predict + heatmap {lite['predict_default_heatmap']['median_ms']:.0f} ms (goal <= 100 ms): "
            f"{verdict[targets['predict_default_heatmap_ms_met']]}") in text
    assert (f"`predict --cam` {cli['marginal_ms_per_film_predict_cam']:.0f} ms per film (goal <= 150 ms): "
            f"{verdict[targets['cli_cam_marginal_ms_met']]}") in text
    speedup = bench["ratios_reference_over_ours"][DEFAULT]["predict_default_heatmap_latency"]
    assert f"{speedup:.1f}x faster than the reference's predict + Grad-CAM (goal >= 2x): " \
           f"{verdict[targets['default_heatmap_speedup_met']]}" in text
    for name, p in bench["thread_policies"].items():
        free, busy = p["free_cores"]["predict_default_heatmap"], p["one_core_busy"]["predict_default_heatmap"]
        assert (f"| {name} | " in text and f"| {p['threads']} | {free['median_ms']:.0f} ms ({free['p90_ms']:.0f}) | "
                f"{busy['median_ms']:.0f} ms ({busy['p90_ms']:.0f}) |") in text, name
    assert bench["openmp"]["GOMP_SPINCOUNT"] == bench["thread_policies"]["product (bounded spin)"]["environment"][
        "GOMP_SPINCOUNT"]


def test_readme_heatmap_speed_comes_from_inference_json():
    bench = _json("benchmarks", "results", "inference.json")
    lite, cli = bench["pipelines"][DEFAULT], bench["cli_predict_cam"]
    ratio = bench["ratios_reference_over_ours"][DEFAULT]["predict_default_heatmap_latency"]
    passive = bench["thread_policies"]["passive"]
    text = _flat(README)
    assert (f"On 2 free cores a film's prediction and heatmap take {lite['predict_default_heatmap']['median_ms']:.0f} ms, "
            f"{cli['marginal_ms_per_film_predict_cam']:.0f} ms from the command line, {ratio:.1f}× faster than "
            f"DenseNet-121 + Grad-CAM") in text
    assert (f"set `OMP_WAIT_POLICY=PASSIVE` ({passive['free_cores']['predict_default_heatmap']['median_ms']:.0f} ms, "
            f"and {passive['one_core_busy']['predict_default_heatmap']['median_ms']:.0f} ms beside a busy process)") in text


def test_saliency_doc_search_in_steps_table_is_the_oracle_benchmarks_own():
    """docs/saliency.md shows what `saliency_oracle.py --table-only` prints from its JSONs: every
    recorded search, from one step (exact occlusion) to 39 (the greedy search)."""
    import subprocess
    import sys
    printed = subprocess.run([sys.executable, "benchmarks/saliency_oracle.py", "--table-only"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.strip()
    steps = [int(line.split("|")[1]) for line in printed.splitlines()[2:]]
    assert steps == [39, 20, 10, 5, 1] and printed in (REPO / "docs" / "saliency.md").read_text()
    ratio = {n: _json("benchmarks", "results", f"saliency_oracle_per_step_{n}.json")["summary"] for n in (20, 10)}
    assert ratio[20]["infill"]["drop_ratio"] >= 3 > ratio[20]["flat"]["drop_ratio"]
    assert min(ratio[10][p]["drop_ratio"] for p in ("flat", "infill")) >= 3
    assert ("Two steps (373 passes, each the cost of one prediction) meet the ratio under infill but not flat; "
            "four steps meet it under both") in _flat(REPO / "docs" / "saliency.md")


def test_readme_quotes_the_earlier_normalisation_methods_test_specificity_from_its_record():
    study = _json("weights", DEFAULT, "adapt_study_normalisation_test.json")["summary"]["clean"]
    spec = [study[p]["bn-last48-weighted"]["specificity"]["mean"] for p in study]
    assert f"({min(spec):.2f} to {max(spec):.2f}; `--method bn-last48-weighted`)" in _flat(README)


def test_readme_shortcut_figures_come_from_the_marker_study():
    lite = _json("benchmarks", "results", "marker_study_val.json")["models"][DEFAULT]
    top, removed, control = lite["top_cell"]["PNEUMONIA"], lite["markers_removed"], lite["control_removed"]
    text = _flat(README)
    assert (f"on the default model's {lite['validation_films']} validation films, {top['on_marker']} of {top['films']} "
            f"PNEUMONIA maps peak on a marker, yet filling every marker in turned {removed['calls_flipped']} of "
            f"{removed['films']} calls, as a mirrored control did") in text
    assert control["calls_flipped"] == removed["calls_flipped"]  # "as a mirrored control did"


def test_readme_node_throughput_comes_from_the_node_benchmark():
    rows = {r["side_px"]: r for r in _json("benchmarks", "results", "node_throughput.json")["results"]}
    small, large = rows[224], rows[2048]
    assert f"{small['films_per_s']:.1f} films/s for 224 px films and {large['films_per_s']:.1f} for " \
           f"{large['file_mb_mean']:.0f} MB films" in _flat(README)
    assert all(r["held_in_orthanc"] == {"sr": r["n"], "map": r["n"]} for r in rows.values())  # "stores ... results back"
