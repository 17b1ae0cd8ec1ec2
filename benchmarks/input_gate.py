"""Which films get no call, which are corrected, and what the correction costs: the input gate.

    .venv/bin/python benchmarks/input_gate.py [--models efficientnet_lite0 paper_cnn] [--threads 2]

For each shipped model with an orientation head (`python -m pneumo_core.training.orientation`),
every film goes through the decision the predictor is to make (`inference.orientation.assess_batch`,
then `inference.gate.decide` on the features of the film that would be scored):

- the 624 official test films (`data/test`) as they are: the share withheld ("not assessed",
  target <= 0.5%) and the share flagged unusual;
- every test film under each of the 7 other transforms (rotated 90° clockwise, 180°, 90°
  counter-clockwise, inverted, and the three rotated+inverted), applied to the decoded
  pixels before the product's resize: the share detected (withheld or corrected, target
  >= 99% over the four single transforms the issue names, reported per transform and for
  the combinations too), the share corrected to upright, corrected into the wrong
  orientation, and the mean absolute change in probability of corrected films against the
  upright original (target <= 0.02);
- the non-radiograph set of `harness/non_radiographs.py` (PNG bytes -> `ingest.load`): the
  share withheld (target >= 97%), by reason and group.

Nothing here chooses anything: the head, its confidence level and the far-OOD limits were
fixed on training and validation data (see `weights/MODEL/orientation.json`). Features are
memoised by image content, so a corrected film identical to its upright original is not
run through the network twice. Prints a summary and writes benchmarks/results/input_gate.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from harness.non_radiographs import as_radiographs, non_radiographs, official_test_radiographs  # noqa: E402
from pneumo_core.data.preprocess import resize_square  # noqa: E402
from pneumo_core.inference.gate import (FAR_OOD_REASON, Tier, decide, far_ood_limits,  # noqa: E402
                                        far_out_of_distribution)
from pneumo_core.inference.ood import image_check_reasons  # noqa: E402
from pneumo_core.inference.orientation import (TRANSFORMS, WITHHELD_REASON, OrientationHead, apply,  # noqa: E402
                                               assess_batch)
from pneumo_core.inference.predictor import Predictor  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "input_gate.json"
TARGETS = {"test_withheld_max": 0.005, "transformed_detected_min": 0.99, "corrected_abs_prob_change_max": 0.02,
           "non_radiograph_withheld_min": 0.97}
ISSUE_TRANSFORMS = (1, 2, 3, 4)  # rotated 90° cw, 180°, 90° ccw, inverted: the four the issue names
BATCH = 32


class CachedFeatures:
    """`Predictor.features`, memoised by the bytes of each uint8 film."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor, self.cache, self.computed = predictor, {}, 0

    def __call__(self, images_u8: np.ndarray) -> np.ndarray:
        keys = [hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest() for a in images_u8]
        todo = sorted({k: i for i, k in enumerate(keys) if k not in self.cache}.items(), key=lambda kv: kv[1])
        if todo:
            feats = self.predictor.features(np.stack([images_u8[i] for _, i in todo]))
            self.computed += len(todo)
            self.cache.update({k: f for (k, _), f in zip(todo, feats)})
        return np.stack([self.cache[k] for k in keys])


def gate(predictor: Predictor, head: OrientationHead, limits, features_fn, films: list) -> list[dict]:
    """The predictor-to-be's decision for each Radiograph: tier, orientation, probability."""
    out = []
    for i in range(0, len(films), BATCH):
        chunk = films[i:i + BATCH]
        u8 = np.stack([resize_square(r.pixels, predictor.spec.size) for r in chunk])
        feats = features_fn(u8)
        assessed = assess_batch(head, u8, features_fn, feats)
        final = np.stack([a.corrected_features if a.status == "corrected" else f for a, f in zip(assessed, feats)])
        far = far_out_of_distribution(predictor.ood, final, limits)
        flags = predictor.ood.flags(final) if predictor.ood is not None else np.zeros(len(chunk), bool)
        with torch.inference_mode():
            logits = predictor.model.classify(torch.from_numpy(final.astype(np.float32))).squeeze(1).double().numpy()
        probs = 1.0 / (1.0 + np.exp(-logits / predictor.bundle.temperature))
        for r, a, fa, fl, p in zip(chunk, assessed, far, flags, probs):
            d = decide(image_check_reasons(r, predictor.ood_checks), bool(fa), a, bool(fl))
            out.append({"tier": d.tier, "status": a.status, "read_as": a.transform, "far": bool(fa),
                        "checks": bool(image_check_reasons(r, predictor.ood_checks)),
                        "probability": float(p), "warnings": d.warnings})
    return out


def _share(mask) -> dict:
    mask = np.asarray(mask, dtype=bool)
    return {"n": int(mask.size), "count": int(mask.sum()), "rate": round(float(mask.mean()), 4) if mask.size else None}


def transformed(film: "object", index: int):
    return dataclasses.replace(film, pixels=apply(film.pixels, index), warnings=list(film.warnings))


def evaluate(model: str, test: tuple[list, list[str]], other: tuple[list, list[str], list[str]]) -> dict:
    t0 = time.perf_counter()
    predictor = Predictor(model)
    head = OrientationHead.load(predictor.bundle.directory)
    if head is None:
        raise SystemExit(f"{model} has no orientation head; run python -m pneumo_core.training.orientation first")
    limits = far_ood_limits(predictor.bundle.directory)
    features_fn = CachedFeatures(predictor)
    films, names = test

    upright = gate(predictor, head, limits, features_fn, films)
    p0 = np.array([u["probability"] for u in upright])
    withheld0 = np.array([u["tier"] is Tier.NOT_ASSESSED for u in upright])
    report = {
        "model": model,
        "head": {"confidence": head.confidence, "far_ood_limits": list(limits) if limits else None},
        "test_upright": {
            "withheld": _share(withheld0),
            "unusual": _share([u["tier"] is Tier.UNUSUAL for u in upright]),
            "withheld_by_orientation": _share([u["status"] == "withheld" for u in upright]),
            "withheld_by_far_ood": _share([u["far"] for u in upright]),
            "corrected_although_upright": _share([u["status"] == "corrected" for u in upright]),
            "withheld_files": [f"{n}: {u['warnings'][0]}" for n, u in zip(names, upright) if u["tier"] is Tier.NOT_ASSESSED],
        },
        "transformed": {},
    }
    pooled = {"issue": [], "combinations": []}
    for t in TRANSFORMS[1:]:
        res = gate(predictor, head, limits, features_fn, [transformed(f, t.index) for f in films])
        status = np.array([r["status"] for r in res])
        read = np.array([r["read_as"] for r in res])
        right = (status == "corrected") & (read == t.index)
        dp = np.abs(np.array([r["probability"] for r in res]) - p0)[right]
        entry = {
            "detected": _share(status != "upright"),
            "corrected": _share(right),
            "corrected_wrongly": _share((status == "corrected") & (read != t.index)),
            "withheld_by_orientation": _share(status == "withheld"),
            "missed_scored_as_given": _share(status == "upright"),
            "not_assessed_any_reason": _share([r["tier"] is Tier.NOT_ASSESSED for r in res]),
            "corrected_abs_prob_change": {"mean": round(float(dp.mean()), 5) if dp.size else None,
                                          "max": round(float(dp.max()), 5) if dp.size else None},
            "missed_files": [n for n, s in zip(names, status) if s == "upright"][:20],
        }
        report["transformed"][t.name] = entry
        pooled["issue" if t.index in ISSUE_TRANSFORMS else "combinations"].append((status, right, dp, read))
    for key, parts in pooled.items():
        status = np.concatenate([p[0] for p in parts])
        dp = np.concatenate([p[2] for p in parts])
        report[f"transformed_{key}_pooled"] = {
            "transforms": [TRANSFORMS[i].name for i in (ISSUE_TRANSFORMS if key == "issue" else (5, 6, 7))],
            "detected": _share(status != "upright"),
            "corrected": _share(np.concatenate([p[1] for p in parts])),
            "corrected_wrongly": _share(np.concatenate([(p[0] == "corrected") & ~p[1] for p in parts])),
            "corrected_abs_prob_change_mean": round(float(dp.mean()), 5) if dp.size else None,
        }

    o_films, o_names, o_groups = other
    res = gate(predictor, head, limits, features_fn, o_films)
    w = np.array([r["tier"] is Tier.NOT_ASSESSED for r in res])
    groups = np.array(o_groups)
    report["non_radiographs"] = {
        "withheld": _share(w),
        "by_group": {g: _share(w[groups == g]) for g in sorted(set(o_groups))},
        "by_reason": {  # each reason alone (several can fire together)
            "image_checks": _share([r["checks"] for r in res]),
            "far_ood": _share([r["far"] for r in res]),
            "orientation_withheld": _share([r["status"] == "withheld" for r in res]),
        },
        "not_withheld": [f"{n} (orientation {r['status']}, unusual={r['tier'] is Tier.UNUSUAL})"
                         for n, r in zip(o_names, res) if r["tier"] is not Tier.NOT_ASSESSED],
    }
    issue = report["transformed_issue_pooled"]
    report["meets_targets"] = {
        "test_withheld": report["test_upright"]["withheld"]["rate"] <= TARGETS["test_withheld_max"],
        "transformed_detected": issue["detected"]["rate"] >= TARGETS["transformed_detected_min"],
        "corrected_abs_prob_change": (issue["corrected_abs_prob_change_mean"] is not None
                                      and issue["corrected_abs_prob_change_mean"] <= TARGETS["corrected_abs_prob_change_max"]),
        "non_radiograph_withheld": report["non_radiographs"]["withheld"]["rate"] >= TARGETS["non_radiograph_withheld_min"],
    }
    report["forward_passes"] = features_fn.computed
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["efficientnet_lite0", "paper_cnn"])
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    test = official_test_radiographs()
    images, names, groups, refused = as_radiographs(non_radiographs())
    report = {
        "targets": TARGETS,
        "non_radiograph_groups": {g: groups.count(g) for g in sorted(set(groups))},
        "refused_by_ingest": refused,
        "withheld_reasons": {"orientation": WITHHELD_REASON, "far_ood": FAR_OOD_REASON},
        "torch_threads": torch.get_num_threads(),
        "load_average_before": list(os.getloadavg()),
        "models": [evaluate(m, test, (images, names, groups)) for m in args.models],
        "load_average_after": list(os.getloadavg()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for m in report["models"]:
        print(m["model"], json.dumps({"test_withheld": m["test_upright"]["withheld"], "unusual": m["test_upright"]["unusual"],
                                      "issue_pooled": m["transformed_issue_pooled"],
                                      "combinations_pooled": m["transformed_combinations_pooled"],
                                      "non_radiographs_withheld": m["non_radiographs"]["withheld"],
                                      "meets_targets": m["meets_targets"]}, indent=1))
    return report


if __name__ == "__main__":
    main()
