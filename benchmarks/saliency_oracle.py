"""Can any map reach the faithfulness rule's second floor (a top-20% drop 3x the random one)?
An upper reference on validation films: the most damaging 20% of 14x14 cells found by greedy
search with the model in the loop (each step blanks every remaining cell on top of those
already chosen and keeps the one that lowers the class score most), under both perturbations.
No map can be expected to beat it by much: a map ranks cells once, without the model's
answers to their combinations.

    .venv/bin/python benchmarks/saliency_oracle.py [--films 20] [--device cuda]

The films, their shown class and their random-cell baselines are exactly those of
`benchmarks/saliency_faithfulness.py` (same sample, same seeds, `film_baseline`), so the
ratio compares with its table. 39 steps of up to 196 forward passes per film and
perturbation: minutes on a GPU, hours on 2 CPU cores. Writes
benchmarks/results/saliency_oracle.json.
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


def greedy_drop(predictor: Predictor, base, fill: str, k: int) -> float:
    """The class-score drop of the k cells chosen greedily (see the module docstring)."""
    cells = torch.from_numpy(cell_masks(base.x.shape[-1], GRID)).to(predictor.device)
    x = base.x.to(predictor.device)
    current = torch.zeros_like(cells[0])
    left = list(range(len(cells)))
    best = 0.0
    for _ in range(k):
        z = class_logits(predictor, FILLS[fill](x, current[None] | cells[left]), batch=256)
        drops = base.sign * (base.logit - z)
        j = int(np.argmax(drops))
        best = float(drops[j])
        current |= cells[left.pop(j)]
    return best


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--films", type=int, default=20, help="the first N of the faithfulness sample (balanced prefix)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "chest_xray")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    predictor = Predictor(args.model, device=args.device, gate=False)
    k = int(round(FRACTION * GRID * GRID))
    rows, t0 = [], time.time()
    for i, path in enumerate(sample(args.model, args.data, 30)[:args.films]):
        model_input = resize_square(load(path).pixels, predictor.spec.size)
        base = film_baseline(predictor, model_input, np.random.default_rng([SEED, i]))
        rows.append({"film": path.name, "shown_class": base.target_class,
                     **{fill: {"oracle_drop": greedy_drop(predictor, base, fill, k),
                               "random_drop": float(np.mean(base.sign * (base.logit - random)))}
                        for fill, random in (("flat", base.random_logits), ("infill", base.random_logits_infill))}})
        print(f"film {i + 1}: {json.dumps(rows[-1])} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    summary = {}
    for fill in ("flat", "infill"):
        top = float(np.mean([r[fill]["oracle_drop"] for r in rows]))
        rnd = float(np.mean([r[fill]["random_drop"] for r in rows]))
        summary[fill] = {"mean_oracle_drop": top, "mean_random_drop": rnd, "drop_ratio": top / rnd,
                         "films_at_3x": int(sum(r[fill]["oracle_drop"] >= 3 * r[fill]["random_drop"] for r in rows))}
    out = {"model": args.model, "films": len(rows), "cells": k, "grid": GRID, "device": args.device,
           "seconds": round(time.time() - t0, 1), "summary": summary, "per_film": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({"films": len(rows), **summary}, indent=1))
    return out


if __name__ == "__main__":
    main()
