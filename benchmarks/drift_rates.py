"""How often the drift alarm fires on batches like the reference, and on the official test split.

    .venv/bin/python benchmarks/drift_rates.py [--data ../shared/data/chest_xray] [--models ...] [--threads 1]

For each shipped model with a drift reference (`python -m pneumo_core drift-reference`):
the false-alarm rate on 200 random 50-film batches of the held-out validation films (the
patients the reference left out, `heldout_files`; target <= 10% at level 0.05) and the
detection rate on 200 random 50-film batches of the 624 official test films (`data/test`,
known to differ from the training data; target >= 90%). The KS test on the scores, which
the command reports beside the verdict, is scored the same way for comparison. Films go
through the product's own path (`Predictor.predict_sources`, as `drift` does). Prints a
summary and writes benchmarks/results/drift_rates.json.

The held-out films need the full dataset (`--data`); the test films ship in `data/test`.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from pneumo_core.inference.batch import score_batch  # noqa: E402
from pneumo_core.evaluation.evaluate import split_items  # noqa: E402
from pneumo_core.inference.predictor import Predictor  # noqa: E402
from pneumo_core.monitoring.drift import drift_test, load_reference  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "drift_rates.json"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "chest_xray"
TARGETS = {"false_alarm_rate_max": 0.10, "detection_rate_min": 0.90}
SEED = 20240611


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    """95% Wilson interval of a rate: 200 batches pin a rate to about +-4 points."""
    p = k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


def batch_rates(reference, features: np.ndarray, logits: np.ndarray, n_batches: int, batch: int, seed: int) -> dict:
    """Draws `n_batches` batches of `batch` films without replacement (within a batch) and
    tests each; the permutation seed is the batch's index."""
    rng = np.random.default_rng(seed)
    shifted, ks, p_values = [], [], []
    for i in range(n_batches):
        b = rng.choice(len(features), size=batch, replace=False)
        r = drift_test(reference, features[b], logits[b], seed=i)
        shifted.append(r["shifted"])
        ks.append(r["scores_ks"]["p_value"] < reference.level)
        p_values.append(r["p_value"])
    k, k_ks = int(sum(shifted)), int(sum(ks))
    return {"films": int(len(features)), "batches": n_batches, "flagged": k, "rate": round(k / n_batches, 4),
            "rate_ci95": wilson(k, n_batches), "median_p_value": round(float(np.median(p_values)), 4),
            "scores_ks_flagged": k_ks, "scores_ks_rate": round(k_ks / n_batches, 4)}


def evaluate(model: str, data: Path, n_batches: int, batch: int, seed: int) -> dict:
    predictor = Predictor(model, gate=False)
    reference = load_reference(predictor.bundle.directory)
    if reference is None:
        raise SystemExit(f"{model} ships no drift reference; run `python -m pneumo_core drift-reference --model {model} "
                         f"--data {data}` first")
    heldout = [data / k for k in reference.meta["heldout_files"]]
    missing = [p for p in heldout if not p.is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} held-out validation films missing under {data} (e.g. {missing[0]}); "
                         "the false-alarm rate needs the full dataset")
    test = [it.path for it in split_items(predictor.bundle, ROOT / "data", "test")]
    t0 = time.perf_counter()
    held = score_batch(predictor, [(p, str(p)) for p in heldout])
    held_f, held_l, held_failed = held.features, held.logits, held.failed
    tested = score_batch(predictor, [(p, str(p)) for p in test])
    test_f, test_l, test_failed = tested.features, tested.logits, tested.failed
    t1 = time.perf_counter()
    out = {"model": model, "model_sha256": predictor.bundle.meta.model_sha256, "reference": reference.describe(),
           "false_alarm": batch_rates(reference, held_f, held_l, n_batches, batch, seed),
           "detection": batch_rates(reference, test_f, test_l, n_batches, batch, seed + 1),
           "unreadable": {"heldout": len(held_failed), "test": len(test_failed)},
           "score_seconds": round(t1 - t0, 1), "test_seconds": round(time.perf_counter() - t1, 1)}
    out["meets_targets"] = bool(out["false_alarm"]["rate"] <= TARGETS["false_alarm_rate_max"]
                                and out["detection"]["rate"] >= TARGETS["detection_rate_min"])
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the full dataset (for the held-out validation films)")
    ap.add_argument("--models", nargs="+", default=["efficientnet_lite0", "paper_cnn"])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--seed", type=int, default=SEED, help="seed of the batch draws (the test split's draws use seed + 1)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (1: steadiest on a shared CPU; rates do not depend on it)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    models = [evaluate(m, args.data, args.batches, args.batch_size, args.seed) for m in args.models]
    report = {"targets": TARGETS, "level": models[0]["reference"]["level"] if models else None,
              "batch_size": args.batch_size, "batches": args.batches,
              "seeds": {"batch_draws_heldout": args.seed, "batch_draws_test": args.seed + 1,
                        "permutations": "the batch's index (0..batches-1)"},
              "torch_threads": torch.get_num_threads(), "models": models,
              "wall_seconds": round(time.perf_counter() - t0, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for m in models:
        fa, de = m["false_alarm"], m["detection"]
        print(f"{m['model']:18s} false alarms {fa['flagged']:3d}/{fa['batches']} = {fa['rate']:.3f} {fa['rate_ci95']}  "
              f"detections {de['flagged']:3d}/{de['batches']} = {de['rate']:.3f} {de['rate_ci95']}  "
              f"(scores KS alone: {fa['scores_ks_rate']:.3f} / {de['scores_ks_rate']:.3f})  "
              f"{'meets' if m['meets_targets'] else 'MISSES'} targets")
    print(f"-> {args.out} ({report['wall_seconds']} s)")
    return report


if __name__ == "__main__":
    main()
