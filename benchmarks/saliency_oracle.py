"""Can any map reach the faithfulness rule's second floor (a top-20% drop 3x the random one)?
An upper reference on validation films: the most damaging 20% of 14x14 cells found by greedy
search with the model in the loop (each step blanks every remaining cell on top of those
already chosen and keeps the one that lowers the class score most), under both perturbations.
No map can be expected to beat it by much: a map ranks cells once, without the model's
answers to their combinations.

`--per-step N` keeps the N most damaging cells per step instead of one: fewer steps, fewer
passes, a search between exact occlusion (one step of all 39 cells: a map) and the greedy
search (39 steps of one). It says how many rounds of the model's answers the floor needs.

    .venv/bin/python benchmarks/saliency_oracle.py [--films 60] [--device cuda] [--per-step 1]
    .venv/bin/python benchmarks/saliency_oracle.py --table-only   # the docs' table, from the JSONs

The films, their shown class and their random-cell baselines are exactly those of
`benchmarks/saliency_faithfulness.py` (same sample, same seeds, `film_baseline`), so the
ratio compares with its table. 39 steps of up to 196 forward passes per film and
perturbation: minutes on a GPU, hours on 2 CPU cores. Writes
benchmarks/results/saliency_oracle.json (`--per-step 1`) or saliency_oracle_per_step_N.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pneumo_core.data.preprocess import resize_square  # noqa: E402
from pneumo_core.evaluation.saliency_checks import FRACTION, GRID, film_baseline  # noqa: E402
from pneumo_core.inference.occlusion import FILLS, cell_masks, class_logits  # noqa: E402
from pneumo_core.inference.predictor import Predictor  # noqa: E402
from pneumo_core.io.ingest import load  # noqa: E402
from saliency_faithfulness import SEED, sample  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "saliency_oracle.json"


def greedy_drop(predictor: Predictor, base, fill: str, k: int, per_step: int = 1) -> tuple[float, int]:
    """The class-score drop of the k cells chosen greedily, `per_step` at a time (see the
    module docstring), and the forward passes it took."""
    cells = torch.from_numpy(cell_masks(base.x.shape[-1], GRID)).to(predictor.device)
    x = base.x.to(predictor.device)
    current = torch.zeros_like(cells[0])
    left = list(range(len(cells)))
    best, passes, chosen = 0.0, 0, 0
    while chosen < k:
        z = class_logits(predictor, FILLS[fill](x, current[None] | cells[left]), batch=32)
        passes += len(left)
        drops = base.sign * (base.logit - z)
        take = min(per_step, k - chosen)
        picked = sorted(np.argsort(-drops, kind="stable")[:take].tolist(), reverse=True)
        best = float(drops[picked[0]])  # with one cell a step, the last step's drop is the set's
        for j in picked:
            current |= cells[left.pop(j)]
        chosen += take
    if per_step > 1:  # cells taken together: their joint drop is one more pass
        best = float(base.sign * (base.logit - class_logits(predictor, FILLS[fill](x, current[None]))[0]))
        passes += 1
    return best, passes


def search_passes(cells: int, k: int, per_step: int) -> int:
    """Forward passes of a search that keeps `per_step` of `cells` per step until k are kept
    (one more for the joint drop when several are kept at once); for records written before
    the search counted its passes."""
    passes, left = 0, cells
    for kept in range(0, k, per_step):
        passes += left
        left -= min(per_step, k - kept)
    return passes + (per_step > 1)


def table(results: Path = RESULTS.parent) -> str:
    """The rounds table of docs/saliency.md, one row per recorded search, fewest passes first."""
    runs = [json.loads(p.read_text()) for p in results.glob("saliency_oracle*.json")]
    rows = ["| cells kept per step | steps | forward passes per film | flat: mean drop, ratio, films at 3x "
            "| infill: mean drop, ratio, films at 3x | run (all films, both perturbations) |",
            "|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: -r.get("per_step", 1)):
        n = r.get("per_step", 1)
        passes = r["summary"]["flat"].get("forward_passes_per_film") or search_passes(r["grid"] ** 2, r["cells"], n)
        cols = [f"{r['summary'][f]['mean_oracle_drop']:.2f}, {r['summary'][f]['drop_ratio']:.1f}x, "
                f"{r['summary'][f]['films_at_3x']}/{r['films']}" for f in ("flat", "infill")]
        where = "one GPU" if r["device"].startswith("cuda") else f"{r.get('threads', 2)} CPU threads"
        rows.append(f"| {n} | {-(-r['cells'] // n)} | {passes:,.0f} | {cols[0]} | {cols[1]} | "
                    f"{r['seconds'] / 60:.0f} min on {where} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--films", type=int, default=60, help="the first N of the faithfulness sample (balanced prefix)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "chest_xray")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--per-step", type=int, default=1, help="cells kept per step of the search")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--table-only", action="store_true", help="print the docs' table from the JSONs and stop")
    args = ap.parse_args(argv)
    if args.table_only:
        print(table())
        return {}
    out_path = args.out or (RESULTS if args.per_step == 1 else
                            RESULTS.with_name(f"saliency_oracle_per_step_{args.per_step}.json"))
    predictor = Predictor(args.model, device=args.device, gate=False)
    k = int(round(FRACTION * GRID * GRID))
    rows, t0 = [], time.time()
    for i, path in enumerate(sample(args.model, args.data, 30)[:args.films]):
        model_input = resize_square(load(path).pixels, predictor.spec.size)
        base = film_baseline(predictor, model_input, np.random.default_rng([SEED, i]))
        row = {"film": path.name, "shown_class": base.target_class}
        for fill, random in (("flat", base.random_logits), ("infill", base.random_logits_infill)):
            drop, passes = greedy_drop(predictor, base, fill, k, args.per_step)
            row[fill] = {"oracle_drop": drop, "random_drop": float(np.mean(base.sign * (base.logit - random))),
                         "forward_passes": passes}
        rows.append(row)
        print(f"film {i + 1}: {json.dumps(rows[-1])} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    summary = {}
    for fill in ("flat", "infill"):
        top = float(np.mean([r[fill]["oracle_drop"] for r in rows]))
        rnd = float(np.mean([r[fill]["random_drop"] for r in rows]))
        summary[fill] = {"mean_oracle_drop": top, "mean_random_drop": rnd, "drop_ratio": top / rnd,
                         "films_at_3x": int(sum(r[fill]["oracle_drop"] >= 3 * r[fill]["random_drop"] for r in rows)),
                         "forward_passes_per_film": float(np.mean([r[fill]["forward_passes"] for r in rows]))}
    out = {"model": args.model, "films": len(rows), "cells": k, "grid": GRID, "device": args.device,
           "per_step": args.per_step, "threads": torch.get_num_threads(),
           "seconds": round(time.time() - t0, 1), "summary": summary, "per_film": rows}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({"films": len(rows), **summary}, indent=1))
    return out


if __name__ == "__main__":
    main()
