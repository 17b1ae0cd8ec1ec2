"""Which saliency method and layer show what the model used: faithfulness on validation films.

    .venv/bin/python benchmarks/saliency_faithfulness.py [--models efficientnet_lite0 paper_cnn]
        [--per-class 30] [--minutes 25] [--data ../shared/data/chest_xray] [--threads 2]

Protocol (fixed before the first run; the test split is never read):
- Films: each model's own validation split (`weights/MODEL/split.json`, read with
  `data.dataset.manifest_items`), `--per-class` NORMAL and as many PNEUMONIA films drawn
  with seed 0, interleaved NORMAL/PNEUMONIA so any prefix is balanced; a model whose run
  passes `--minutes` (the CPUs are shared) stops after an even number of films and reports
  that balanced prefix. Decoded and resized
  as the predictor does (`resize_square`), scored as given (validation films are upright).
- Class explained: the class the product shows at the model's default threshold, as the app
  and `predict --cam` do; a NORMAL call is explained as NORMAL and its score is -logit.
- Per film and candidate map, `evaluation.saliency_checks.score_map`: blank the map's top
  20% with the image mean vs 5 random draws of whole cells of a 14x14 grid covering the same
  20% (mean of the 5): does the top blanking lower the class logit more? Deletion and
  insertion curves of P(class) over 0-100% in 10% steps (insertion from a blurred copy) and
  their areas. Seconds per film for the map alone (`explain`, overlay included).
- Candidates: Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM at the architecture's last spatial
  layer and at finer ones (lite0: head_act 7x7, _blocks.10 14x14, _blocks.4 28x28;
  paper_cnn: blocks.6 16x16, blocks.4 32x32); EigenCAM at the last layer (reference only:
  not class-specific); occlusion maps blanking each cell of a 14x14 and of a 7x7 grid.
  pytorch-grad-cam's perturbation methods were left out: ScoreCAM and AblationCAM run one
  forward pass per channel or batch of channels (1,280 channels at lite0's head_act).

Choice rule, per model (written here before the run):
1. Eligible: class-specific maps costing at most MAX_PASSES forward-pass equivalents per film
   (a CAM: one forward and one partial backward, counted 2; an occlusion map: one pass per
   cell plus one). 200 passes is about 2 s per film on this 2-core CPU with free cores (9-10
   ms per Lite0 pass at batch 14), the longest we let a reader wait for one film's map.
2. Default method: the eligible candidate with the highest share of films where the top
   blanking beats the random grid; ties by lower mean deletion AUC, then higher insertion AUC.
   Target for the default model: share >= 0.80.
3. Layer for the CAM methods the product still offers: the layer of the best CAM candidate
   by the same ordering (so a reader who picks Grad-CAM gets its most faithful layer).
Prints a summary; writes benchmarks/results/saliency_faithfulness.json. Per-film records are
checkpointed (`--checkpoint`), so an interrupted run resumes where it stopped. `--figure-only`
redraws docs/figures/saliency_faithfulness.png from the JSON (shares per candidate, and one
validation film's maps under the former default, the best CAM and the chosen default).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.drift_rates import wilson  # noqa: E402
from pneumo_core.data.dataset import CLASSES, manifest_items  # noqa: E402
from pneumo_core.data.preprocess import preprocess_batch, resize_square  # noqa: E402
from pneumo_core.evaluation.saliency_checks import film_baseline, score_map  # noqa: E402
from pneumo_core.inference.occlusion import occlusion_map  # noqa: E402
from pneumo_core.inference.predictor import Predictor  # noqa: E402
from pneumo_core.inference.saliency import METHODS, explain  # noqa: E402
from pneumo_core.io.ingest import load  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "saliency_faithfulness.json"
FIGURE = ROOT / "docs" / "figures" / "saliency_faithfulness.png"
CHECKPOINT = ROOT / "benchmarks" / "results" / "saliency_faithfulness.checkpoint.jsonl"
MAX_PASSES = 200
TARGET_SHARE = 0.80
SEED = 0
LAYERS = {"efficientnet_lite0": ["head_act", "_blocks.10", "_blocks.4"], "paper_cnn": ["blocks.6", "blocks.4"]}
CAM_METHODS = ["gradcam", "gradcam++", "hirescam", "layercam"]
OCCLUSION_GRIDS = [14, 7]


def candidates(arch: str) -> list[dict]:
    out = [{"name": f"{m}@{layer}", "method": m, "layer": layer, "passes": 2, "class_specific": True}
           for layer in LAYERS[arch] for m in CAM_METHODS]
    out.append({"name": f"eigencam@{LAYERS[arch][0]}", "method": "eigencam", "layer": LAYERS[arch][0], "passes": 1,
                "class_specific": False})
    out += [{"name": f"occlusion{g}", "method": "occlusion", "grid": g, "passes": g * g + 1, "class_specific": True}
            for g in OCCLUSION_GRIDS]
    return out


def sample(arch: str, data: Path, per_class: int) -> list[Path]:
    val = manifest_items(ROOT / "weights" / arch / "split.json", data)["val"]
    rng = np.random.default_rng(SEED)
    by_class = []
    for c in range(len(CLASSES)):
        files = sorted(str(i.path) for i in val if i.label == c)
        by_class.append([Path(f) for f in rng.permutation(files)[:per_class]])
    return [f for pair in zip(*by_class) for f in pair]  # NORMAL, PNEUMONIA, NORMAL, ...


def make_map(predictor: Predictor, model_input: np.ndarray, cand: dict, target: str) -> np.ndarray:
    if cand["method"] == "occlusion" and cand["grid"] != METHODS["occlusion"].grid:
        x = preprocess_batch(model_input[None], predictor.spec)
        return occlusion_map(predictor, x, cand["grid"], lambda _: CLASSES.index(target))[0]
    exp = explain(predictor, model_input, cand["method"], target=target, layer=cand.get("layer"))
    return exp.heatmap


def run_film(predictor: Predictor, path: Path, index: int, cands: list[dict]) -> dict:
    model_input = resize_square(load(path).pixels, predictor.spec.size)
    base = film_baseline(predictor, model_input, np.random.default_rng([SEED, index]))
    rec = {"file": str(path), "true_class": path.parent.name, "shown_class": base.target_class, "maps": {}}
    for cand in cands:
        t0 = time.perf_counter()
        heat = make_map(predictor, model_input, cand, base.target_class)
        seconds = time.perf_counter() - t0
        rec["maps"][cand["name"]] = dict(score_map(predictor, base, heat), seconds=seconds)
    return rec


def summarise(records: list[dict], cands: list[dict]) -> dict:
    out = {}
    for cand in cands:
        rows = [r["maps"][cand["name"]] for r in records]
        wins = np.array([m["top_beats_random"] for r, m in zip(records, rows)])
        lo, hi = wilson(int(wins.sum()), len(wins))
        by_class = {c: float(np.mean([m["top_beats_random"] for r, m in zip(records, rows) if r["shown_class"] == c]))
                    for c in CLASSES if any(r["shown_class"] == c for r in records)}
        out[cand["name"]] = {
            **{k: v for k, v in cand.items() if k != "name"},
            "n": len(rows), "share_top_beats_random": float(wins.mean()), "share_ci95": [lo, hi],
            "share_by_shown_class": by_class,
            "mean_top_drop": float(np.mean([m["top_drop"] for m in rows])),
            "mean_random_drop": float(np.mean([m["random_drop"] for m in rows])),
            "deletion_auc": float(np.mean([m["deletion_auc"] for m in rows])),
            "insertion_auc": float(np.mean([m["insertion_auc"] for m in rows])),
            "median_seconds_per_film": float(np.median([m["seconds"] for m in rows])),
        }
    return out


def _order(item: tuple[str, dict]) -> tuple:
    s = item[1]
    return (-s["share_top_beats_random"], s["deletion_auc"], -s["insertion_auc"])


def choose(summary: dict) -> dict:
    eligible = sorted(((k, s) for k, s in summary.items() if s["class_specific"] and s["passes"] <= MAX_PASSES),
                      key=_order)
    cams = sorted(((k, s) for k, s in summary.items() if s["class_specific"] and s["method"] != "occlusion"), key=_order)
    best, best_cam = eligible[0], cams[0]
    return {"default": best[0], "default_method": best[1]["method"], "share": best[1]["share_top_beats_random"],
            "meets_target": best[1]["share_top_beats_random"] >= TARGET_SHARE,
            "cam_layer": best_cam[1]["layer"], "best_cam": best_cam[0],
            "ranking": [k for k, _ in eligible]}


def figure(report: dict, out: Path, data: Path) -> Path:
    """Shares per candidate (bars, the 80% target dashed), then one validation PNEUMONIA film
    of the default model explained three ways."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pneumo_core.io.overlay import render_overlay

    models = report["models"]
    fig = plt.figure(figsize=(11, 4.2 + 3.2), constrained_layout=True)
    grid = fig.add_gridspec(2, 6, height_ratios=[4.2, 3.2])
    span = 6 // len(models)
    for j, (arch, m) in enumerate(models.items()):
        ax = fig.add_subplot(grid[0, j * span:(j + 1) * span])
        items = sorted(m["candidates"].items(), key=_order)[::-1]
        colours = ["#2b8cbe" if s["method"] == "occlusion" else "#999999" if not s["class_specific"] else "#e34a33"
                   for _, s in items]
        ax.barh([k for k, _ in items], [s["share_top_beats_random"] for _, s in items], color=colours)
        ax.axvline(TARGET_SHARE, ls="--", c="k", lw=1)
        ax.set_xlim(0, 1)
        ax.set_title(f"{arch}: {m['films']} validation films", fontsize=10)
        ax.set_xlabel("share: top-20% blanking beats random 14x14 cells", fontsize=8)
        ax.tick_params(labelsize=7)
    arch = "efficientnet_lite0" if "efficientnet_lite0" in models else next(iter(models))
    m = models[arch]
    predictor = Predictor(arch, gate=False)
    film = next(f for f in m["films_used"] if "/PNEUMONIA/" in f)
    u8 = resize_square(load(data / film).pixels, predictor.spec.size)
    shown = [f"gradcam@{LAYERS[arch][0]}", m["choice"]["best_cam"], m["choice"]["default"]]
    cands = {c["name"]: c for c in candidates(arch)}
    for j, name in enumerate(dict.fromkeys(shown)):
        ax = fig.add_subplot(grid[1, 2 * j:2 * j + 2])
        ax.imshow(render_overlay(u8, make_map(predictor, u8, cands[name], "PNEUMONIA"), 0.5))
        ax.set_title(f"{name}: {m['candidates'][name]['share_top_beats_random']:.0%}", fontsize=9)
        ax.axis("off")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["efficientnet_lite0", "paper_cnn"])
    ap.add_argument("--per-class", type=int, default=30)
    ap.add_argument("--minutes", type=float, default=25.0, help="per model: stop after an even film count past this")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "chest_xray")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--figure", type=Path, default=FIGURE)
    ap.add_argument("--figure-only", action="store_true", help="redraw the figure from the JSON and stop")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.figure_only:
        print(figure(json.loads(args.out.read_text()), args.figure, args.data))
        return {}
    done: dict[tuple[str, str], dict] = {}
    if args.checkpoint.is_file():
        for line in args.checkpoint.read_text().splitlines():
            r = json.loads(line)
            done[(r["model"], r["file"])] = r
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    report = {"protocol": __doc__.split("Choice rule")[0].strip(), "rule": {"max_passes": MAX_PASSES,
              "target_share": TARGET_SHARE}, "machine": {"cpu": platform.processor() or platform.machine(),
              "torch_threads": torch.get_num_threads(), "load_before": os.getloadavg()},
              "models": previous.get("models", {})}  # a run for one model keeps the others' results
    for arch in args.models:
        predictor = Predictor(arch, gate=False)
        cands = candidates(arch)
        records = []
        t0 = time.time()
        for i, path in enumerate(sample(arch, args.data, args.per_class)):
            if i >= 2 and i % 2 == 0 and time.time() - t0 > 60 * args.minutes:
                break
            rec = done.get((arch, str(path)))
            if rec is None:
                rec = dict(run_film(predictor, path, i, cands), model=arch)
                with args.checkpoint.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
            records.append(rec)
            print(f"{arch} film {i + 1}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        summary = summarise(records, cands)
        report["models"][arch] = {"films": len(records), "minutes": round((time.time() - t0) / 60, 1),
                                  "load_after": os.getloadavg(), "threshold": predictor.threshold(),
                                  "shown_classes": {c: sum(r["shown_class"] == c for r in records) for c in CLASSES},
                                  "true_classes": {c: sum(r["true_class"] == c for r in records) for c in CLASSES},
                                  "candidates": summary, "choice": choose(summary),
                                  "films_used": [str(Path(r["file"]).relative_to(args.data)) for r in records]}
        for k, s in sorted(summary.items(), key=_order):
            print(f"{arch:20s} {k:22s} share {s['share_top_beats_random']:.2f} del {s['deletion_auc']:.3f} "
                  f"ins {s['insertion_auc']:.3f} {s['median_seconds_per_film']:.2f} s/film")
        print(arch, json.dumps(report["models"][arch]["choice"]))
    report["machine"]["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
