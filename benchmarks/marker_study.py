"""The shortcut check measured on validation films: how well the marker detector finds burned-in
markers, how often a map's strongest cell sits on one (or outside the body), and how far
filling the markers in moves the model's logit.

    .venv/bin/python benchmarks/marker_study.py [--models efficientnet_lite0 paper_cnn] [--limit N]
    .venv/bin/python benchmarks/marker_study.py --table-only    # docs/saliency.md's tables, from the JSON

Protocol (the test split is never read):
- Detector: `inference.markers.detect_markers` on the 60 validation films of the saliency
  study, against markers marked by eye (`data/marker_labels_val.json`: the 8x8 grid cells
  each marker lies in). A detection is correct when its box meets a marked cell; a film's
  marker is found when a correct detection meets it. The detector's thresholds were set
  looking at films 0-29 of the list (the development half); films 30-59 are reported apart
  as the held-out half.
- Maps: each model's whole validation split (`weights/MODEL/split.json`; `--limit N`: the
  first N films of it in an order drawn with seed 0, for a trial), decoded and resized
  as the predictor does, scored as given (no input gate), the product's default map for the
  class called at the balanced threshold (`explain`), and `inference.shortcut.find_shortcut`
  (the case's check) on it.
- Removing markers: on every film with a detected marker, all of them filled in at once
  (`occlusion.FILLS["infill"]`, as the check fills), against a control: the same mask
  mirrored left to right (the same area on the film's other side). Logits source-calibrated
  (raw / temperature, as `Prediction.logit`), moves signed towards the class called.
Writes benchmarks/results/marker_study_val.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from pneumo_core.cli.threads import use_bounded_spin  # noqa: E402

use_bounded_spin()  # before torch: the product's OpenMP wait policy (the `pneumo` command's)
import torch  # noqa: E402

from pneumo_core.data.dataset import CLASSES, manifest_items  # noqa: E402
from pneumo_core.data.preprocess import resize_square  # noqa: E402
from pneumo_core.evaluation.marker_detection import detector_study  # noqa: E402
from pneumo_core.inference.markers import detect_markers, marker_mask  # noqa: E402
from pneumo_core.inference.predictor import Predictor  # noqa: E402
from pneumo_core.inference.saliency import explain  # noqa: E402
from pneumo_core.inference.shortcut import find_shortcut, infilled_logits  # noqa: E402
from pneumo_core.io.ingest import load  # noqa: E402
from pneumo_core.reporting.shortcut_check import OUTCOMES, ShortcutCheck  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "marker_study_val.json"
LABELS = ROOT / "data" / "marker_labels_val.json"
DATA = ROOT.parent / "shared" / "data" / "chest_xray"
SEED = 0


def _moves(values: list[float], flips: int) -> dict:
    a = np.abs(np.asarray(values, dtype=np.float64))
    return {"films": len(values), "mean_abs": float(a.mean()) if len(a) else None,
            "median_abs": float(np.median(a)) if len(a) else None, "max_abs": float(a.max()) if len(a) else None,
            "mean_towards_call": float(np.mean(values)) if values else None, "calls_flipped": flips}


def film_record(predictor: Predictor, path: Path, threshold: float, data: Path) -> dict:
    """One validation film: the call, the check on its default map, and the markers removed."""
    film = resize_square(load(path).pixels, predictor.spec.size)
    exp = explain(predictor, film, threshold=threshold)
    finding = find_shortcut(predictor, film, exp.heatmap)
    t, sign = predictor.bundle.temperature, 1.0 if exp.target_class == "PNEUMONIA" else -1.0
    rec = {"file": str(path.relative_to(data)), "call": exp.target_class, "markers": finding.markers_on_film,
           "on_marker": finding.on_marker, "outside_body": finding.outside_body}
    if finding.flagged:
        p = predictor.probabilities([finding.logit_before, finding.logit_after])
        check = ShortcutCheck(exp.target_class, finding.markers_on_film, finding.on_marker, finding.outside_body,
                              threshold, finding.logit_before / t, finding.logit_after / t, float(p[0]), float(p[1]))
        rec.update(flagged_move=check.moved, outcome=check.outcome)
    markers = detect_markers(film)
    if markers:
        mask = marker_mask(film.shape, markers)
        z = infilled_logits(predictor, film, np.stack([mask, mask[:, ::-1]])) / t
        p = predictor.probabilities(z * t)
        flips = [predictor.label(float(q), threshold) != exp.target_class for q in p[1:]]
        rec.update(removed_move=float(sign * (z[1] - z[0])), control_move=float(sign * (z[2] - z[0])),
                   removed_flips=flips[0], control_flips=flips[1])
    return rec


def summarise(records: list[dict]) -> dict:
    def top(rows: list[dict]) -> dict:
        return {"films": len(rows), "on_marker": sum(r["on_marker"] for r in rows),
                "outside_body": sum(r["outside_body"] for r in rows),
                "either": sum(r["on_marker"] or r["outside_body"] for r in rows)}
    with_markers = [r for r in records if "removed_move" in r]
    flagged = [r for r in records if "outcome" in r]
    return {"films": len(records), "films_with_markers": len(with_markers),
            "top_cell": {"all": top(records), **{c: top([r for r in records if r["call"] == c]) for c in CLASSES}},
            "markers_removed": _moves([r["removed_move"] for r in with_markers],
                                      sum(r["removed_flips"] for r in with_markers)),
            "control_removed": _moves([r["control_move"] for r in with_markers],
                                      sum(r["control_flips"] for r in with_markers)),
            "flagged_fill": {**_moves([r["flagged_move"] for r in flagged],
                                      sum(r["outcome"] == "flips" for r in flagged)),
                             "outcomes": {o: sum(r["outcome"] == o for r in flagged) for o in OUTCOMES}}}


def run_model(arch: str, data: Path, limit: int | None) -> dict:
    predictor = Predictor(arch, gate=False)
    threshold = predictor.threshold("balanced")
    val = sorted(str(i.path) for i in manifest_items(ROOT / "weights" / arch / "split.json", data)["val"])
    files = [Path(f) for f in np.random.default_rng(SEED).permutation(val)][:limit]  # any prefix is a random draw
    t0 = time.time()
    records = []
    for k, path in enumerate(files):
        records.append(film_record(predictor, path, threshold, data))
        if k % 50 == 0:
            print(f"{arch}: {k + 1}/{len(files)} films, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return {"threshold": threshold, "validation_films": len(val),
            "calls": {c: sum(r["call"] == c for r in records) for c in CLASSES},
            "seconds": round(time.time() - t0, 1), **summarise(records),
            "flagged_films": [r for r in records if r["on_marker"] or r["outside_body"]]}


def _share(n: int, d: int) -> str:
    return f"{n}/{d} ({n / d:.0%})" if d else "0/0"


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def table(report: dict) -> str:
    """docs/saliency.md's three tables, from the JSON."""
    lines = ["| labelled validation films | markers found (recall) | detections on a marker (precision) | "
             "films with a false detection |", "|---|---|---|---|"]
    names = {"development": "0-29 (thresholds set here)", "held_out": "30-59 (held out)", "all": "all 60"}
    for part, name in names.items():
        d = report["detector"][part]
        lines.append(f"| {name} | {_share(d['films_found'], d['films_with_marker'])} | "
                     f"{_share(d['correct'], d['detections'])} | {d['films_with_a_false_detection']}/{d['films']} |")
    lines += ["", "| model | validation films | a marker found | strongest cell on a marker: all / NORMAL calls / "
              "PNEUMONIA calls | strongest cell outside the body | flagged, then filled: flips / moves / unmoved |",
              "|---|---|---|---|---|---|"]
    for arch, m in report["models"].items():
        t, o = m["top_cell"], m["flagged_fill"]["outcomes"]
        lines.append(f"| {arch} | {m['films']} of {m['validation_films']} | "
                     f"{_share(m['films_with_markers'], m['films'])} | "
                     f"{_share(t['all']['on_marker'], t['all']['films'])} / "
                     f"{_share(t['NORMAL']['on_marker'], t['NORMAL']['films'])} / "
                     f"{_share(t['PNEUMONIA']['on_marker'], t['PNEUMONIA']['films'])} | "
                     f"{_share(t['all']['outside_body'], t['all']['films'])} | "
                     f"{o['flips']} / {o['moves']} / {o['unmoved']} |")
    lines += ["", "| model | films with a marker | filling every marker in: mean / median / max abs logit move, "
              "mean towards the call | calls flipped | the same mask mirrored (control): mean / median / max, mean "
              "towards the call | calls flipped |", "|---|---|---|---|---|---|"]
    for arch, m in report["models"].items():
        r, c = m["markers_removed"], m["control_removed"]
        lines.append(f"| {arch} | {r['films']} | {_f(r['mean_abs'])} / {_f(r['median_abs'])} / {_f(r['max_abs'])}, "
                     f"{_f(r['mean_towards_call'])} | {r['calls_flipped']} | {_f(c['mean_abs'])} / "
                     f"{_f(c['median_abs'])} / {_f(c['max_abs'])}, {_f(c['mean_towards_call'])} | "
                     f"{c['calls_flipped']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["efficientnet_lite0", "paper_cnn"])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=None, help="only the first N validation films per model (a trial)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--table-only", action="store_true", help="print docs/saliency.md's tables from the JSON and stop")
    args = ap.parse_args(argv)
    if args.table_only:
        print(table(json.loads(args.out.read_text())))
        return {}
    torch.set_num_threads(args.threads)
    report = {"protocol": __doc__.split("Writes")[0].strip(), "load_before": os.getloadavg(),
              "torch_threads": torch.get_num_threads(), "detector": {"labels": str(LABELS.relative_to(ROOT)), **detector_study(LABELS, args.data)}, "models": {}}
    for arch in args.models:
        report["models"][arch] = run_model(arch, args.data, args.limit)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    report["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(report))
    return report


if __name__ == "__main__":
    main()
