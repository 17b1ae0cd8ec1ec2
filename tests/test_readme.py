"""The README's results table must be the one the shipped evaluations produce."""
import re

from pneumo_core.results import results_markdown

from conftest import REPO


def test_readme_results_table_matches_shipped_eval_files():
    text = (REPO / "README.md").read_text()
    table = re.search(r"<!-- results-table -->\n(.*?)\n<!-- /results-table -->", text, re.S)
    assert table, "README lost its results-table markers"
    assert table.group(1).strip() == results_markdown().strip(), \
        "README table is stale: paste `python -m pneumo_core models --markdown`"


def test_readme_starts_with_the_two_commands():
    head = (REPO / "README.md").read_text().split("```")[1]
    assert "make run" in head and "make test" in head


def test_readme_model_selection_figures_come_from_selection_json():
    """Every candidate's mean shifted-validation loss quoted in the README is the recorded one."""
    import json

    text = (REPO / "README.md").read_text()
    selection = json.loads((REPO / "weights" / "efficientnet_lite0" / "selection.json").read_text())
    for rnd in selection["rounds"]:
        assert rnd["chosen"] in rnd["candidates"]
        for name, losses in rnd["candidates"].items():
            assert f"{losses['mean']:.4f}" in text, f"README misses {name}'s mean loss {losses['mean']:.4f}"
            assert losses["mean"] >= rnd["candidates"][rnd["chosen"]]["mean"], "the rule keeps the lowest mean"


def test_readme_cpu_training_time_is_the_measured_one():
    """The 120-minute budget is shown by a measured run, recorded in model.json and the benchmark file alike."""
    import json

    text = " ".join((REPO / "README.md").read_text().split())  # line breaks do not matter
    measured = json.loads((REPO / "benchmarks" / "results" / "train_cpu_full.json").read_text())
    for arch, run in measured.items():
        meta = json.loads((REPO / "weights" / arch / "model.json").read_text())
        assert meta["training"]["cpu_time"]["measured_minutes_for_documented_command"] == run["measured_minutes"]
        assert f"{run['measured_minutes']} minutes" in text and run["measured_minutes"] <= 120
        if run["epochs_run"] < meta["training"]["config"]["epochs"]:  # stopped early: the full-length estimate too
            assert f"{run['minutes_without_early_stop']} minutes" in text and run["minutes_without_early_stop"] <= 120
            assert meta["training"]["cpu_time"]["minutes_without_early_stop"] == run["minutes_without_early_stop"]
            best = run["epoch_val_loss"][run["best_epoch"] - 1]
            assert f"best epoch {run['best_epoch']}, validation loss {best:.3f}" in text
            assert best == min(run["epoch_val_loss"]), "the kept epoch is the one with the lowest validation loss"
        assert "NVIDIA" not in run["hardware"] and len(run["epoch_seconds"]) == run["epochs_run"]
        val = run["validation_balanced"]  # the run's validation figures the README quotes, and the shipped model's
        shipped = {k: v["balanced"] for k, v in meta["validation"].items()}
        for figures in (val, shipped):
            assert f"{figures['roc_auc']:.4f}" in text
            assert f"{figures['recall']:.3f}" in text and f"{figures['specificity']:.3f}" in text


def test_readme_calibration_choice_figures_come_from_model_json():
    """The held-out figures the README quotes for the calibration choice are the recorded ones,
    and the recorded choice is the one the rule implies."""
    import json

    from pneumo_core.artifacts import list_models
    from pneumo_core.calibration.shift import MARGIN

    text = " ".join((REPO / "README.md").read_text().split())  # line breaks do not matter
    for name in list_models():
        cal = json.loads((REPO / "weights" / name / "model.json").read_text())["calibration"]
        loss = {w: v["balanced_log_loss"] for w, v in cal["mean_held_out"].items()}
        acc = {w: v["balanced_accuracy"] for w, v in cal["mean_held_out"].items()}
        assert f"{cal['mean_relative_loss_change']:+.1%}" in text and f"{loss['clean']:.4f} → {loss['pooled']:.4f}" in text, name
        pooled = cal["mean_relative_loss_change"] < -MARGIN and acc["pooled"] >= acc["clean"]
        assert (cal["fitted_on"] != ["clean"]) == pooled, name
        if cal["mean_relative_loss_change"] < -MARGIN and not pooled:  # the README says what stopped it
            assert f"{acc['clean']:.4f} → {acc['pooled']:.4f}" in text, name


def test_readme_speed_table_comes_from_inference_json():
    """The Benchmarks table and speed-up are the last `python benchmarks/bench_inference.py` run's."""
    import json

    text = " ".join((REPO / "README.md").read_text().split())
    bench = json.loads((REPO / "benchmarks" / "results" / "inference.json").read_text())
    for name, p in bench["pipelines"].items():
        row = (f"| {p['predict']['median_ms']:.1f} ms | {p['predict_gradcam']['median_ms']:.1f} ms | "
               f"{p['batch']['images_per_s']:.0f} images/s | {p['memory_mb']['peak_rss'] / 1000:.2f} GB |")
        assert row in text, f"README's speed row for {name} is stale: re-run the benchmark and paste its figures"
    ratio = bench["ratios_reference_over_ours"]["efficientnet_lite0"]
    assert (f"predict + Grad-CAM is {ratio['predict_gradcam_latency']:.0f}× faster than the reference "
            f"({ratio['predict_gradcam_latency_both_with_gradient_cut']:.0f}× when") in text


def test_readme_site_table_matches_shipped_site_studies():
    from pneumo_core.results import site_results_markdown
    text = (REPO / "README.md").read_text()
    table = re.search(r"<!-- site-results-table -->\n(.*?)\n<!-- /site-results-table -->", text, re.S)
    assert table, "README lost its site-results-table markers"
    assert table.group(1).strip() == site_results_markdown().strip(), \
        "README site table is stale: paste `python -m pneumo_core models --markdown --site`"


def test_readme_drift_figures_come_from_drift_rates_json():
    import json
    text = " ".join((REPO / "README.md").read_text().split())
    runs = json.loads((REPO / "benchmarks" / "results" / "drift_rates.json").read_text())["models"]
    for kind in ("false_alarm", "detection"):
        quoted = ", ".join(f"{100 * m[kind]['rate']:.1f}% (`{m['model']}`)" for m in runs)
        assert quoted in text, f"README's drift {kind} figures differ from drift_rates.json: {quoted}"
