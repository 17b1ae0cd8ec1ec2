"""How often the out-of-distribution warning fires, on radiographs and on things that are not.

    .venv/bin/python benchmarks/ood_rates.py [--models efficientnet_lite0 paper_cnn] [--threads 1]

For each shipped model: the share of the 624 official test radiographs flagged (target
<= 5%) and the share of non-radiograph images flagged (target >= 95%): every
scikit-image sample picture that loads offline (colour ones both as RGB and converted to
grayscale, the hard case) and synthetic images drawn with a fixed seed (noise, flat
fields, gradients, checkerboards, gratings, rendered text, shapes). Every image goes
through the product's own path: PNG bytes -> `ingest.load` -> `Predictor.predict_radiographs`.
Prints JSON and writes benchmarks/results/ood_rates.json.

The pictures come from `harness.non_radiographs`, which tests/inference/test_ood.py scores too.
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
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from pneumo_core.data.preprocess import resize_square  # noqa: E402
from pneumo_core.inference.ood import image_check_reasons  # noqa: E402
from pneumo_core.inference.predictor import OOD_WARNING, Predictor  # noqa: E402
from pneumo_core.io.ingest import Radiograph  # noqa: E402

from harness.non_radiographs import SEED, as_radiographs, non_radiographs, official_test_radiographs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "ood_rates.json"


# --- scoring -------------------------------------------------------------------------
def flagged(pred) -> bool:
    return OOD_WARNING in pred.warnings


def score_in_batches(predictor: Predictor, images: list[Radiograph], names: list[str], batch: int = 32) -> list:
    out = []
    for i in range(0, len(images), batch):
        out.extend(predictor.predict_radiographs(images[i:i + batch], names[i:i + batch]))
    return out


def _sources(predictor: Predictor, images: list[Radiograph], batch: int = 32) -> dict[str, np.ndarray]:
    """Which part of the OOD verdict fired, per image (for the report only)."""
    own = np.zeros(len(images), dtype=bool)
    for i in range(0, len(images), batch):
        u8 = np.stack([resize_square(r.pixels, predictor.spec.size) for r in images[i:i + batch]])
        own[i:i + batch] = predictor._score(u8)[-1]
    checks = np.array([bool(image_check_reasons(r, predictor.ood_checks)) for r in images], dtype=bool)
    return {"own_feature_score": own, "image_checks": checks}


def _rate(mask: np.ndarray) -> dict:
    n, k = int(mask.size), int(mask.sum())
    return {"n": n, "flagged": k, "rate": round(k / n, 4) if n else None}


def evaluate(model: str, test: tuple[list[Radiograph], list[str]],
             other: tuple[list[Radiograph], list[str], list[str]]) -> dict:
    predictor = Predictor(model, gate=False)  # the OOD flag itself; benchmarks/input_gate.py measures the gate
    t0 = time.perf_counter()
    test_preds = score_in_batches(predictor, *test)
    other_preds = score_in_batches(predictor, other[0], other[1])
    seconds = round(time.perf_counter() - t0, 1)
    test_flags = np.array([flagged(p) for p in test_preds], dtype=bool)
    other_flags = np.array([flagged(p) for p in other_preds], dtype=bool)
    test_src, other_src = _sources(predictor, test[0]), _sources(predictor, other[0])
    groups = np.array(other[2])
    return {
        "model": model,
        "feature_term_thresholds": list(predictor.ood.term_thresholds) if predictor.ood else None,
        "test_radiographs": _rate(test_flags),
        "non_radiographs": _rate(other_flags),
        "non_radiographs_by_group": {g: _rate(other_flags[groups == g]) for g in sorted(set(other[2]))},
        "by_source": {  # each part of the verdict alone
            "test_radiographs": {k: _rate(v) for k, v in test_src.items()},
            "non_radiographs": {k: _rate(v) for k, v in other_src.items()},
        },
        "test_flagged_files": [p.file for p in test_preds if flagged(p)],
        "non_radiographs_missed": [f"{p.file} (score {p.ood_score:.2f})" for p in other_preds if not flagged(p)],
        "non_radiographs_missed_by_own_feature_score": [
            p.file for p, f in zip(other_preds, other_src["own_feature_score"]) if not f],
        "every_prediction_has_probability_and_label": all(p.probability is not None and p.label is not None
                                                          for p in test_preds + other_preds),
        "predict_seconds": seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["efficientnet_lite0", "paper_cnn"])
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (1: steadiest on a shared CPU; rates do not depend on it)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    test = official_test_radiographs()
    images, names, groups, refused = as_radiographs(non_radiographs())
    report = {
        "targets": {"test_flag_rate_max": 0.05, "non_radiograph_flag_rate_min": 0.95},
        "seed": SEED,
        "non_radiograph_groups": {g: groups.count(g) for g in sorted(set(groups))},
        "refused_by_ingest": refused,
        "torch_threads": torch.get_num_threads(),
        "models": [evaluate(m, test, (images, names, groups)) for m in args.models],
    }
    for m in report["models"]:
        m["meets_targets"] = bool(m["test_radiographs"]["rate"] <= 0.05 and m["non_radiographs"]["rate"] >= 0.95)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
