"""Prints the Markdown tables of docs/site-adaptation.md from the studies' records
(`python -m pneumo_core adapt-study --split val|test [--study normalisation]`):
python scripts/adaptation_tables.py [MODEL] [--normalisation]"""
import json
import sys
from pathlib import Path

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
STUDY = "adapt_study_normalisation" if "--normalisation" in sys.argv else "adapt_study"
MODEL = Path(__file__).resolve().parent.parent / "weights" / (ARGS[0] if ARGS else "efficientnet_lite0")
BASELINE = "none"


def _cell(row: dict, key: str) -> str:
    v = row[key]
    p5 = f"; 5th {v['p5']:.3f}" if "p5" in v else ""
    return f"{v['mean']:.3f} ({v['p2_5']:.3f}–{v['p97_5']:.3f}{p5})"


def validation() -> None:
    v = json.loads((MODEL / f"{STUDY}_val.json").read_text())
    shifts = list(v["summary"])
    print(f"Validation, {v['draws']} draws per shift and prevalence ({len(shifts)} shifts: {', '.join(shifts)}). "
          "Worst case over shifts and prevalences of the mean sensitivity and specificity; safe: never more than "
          f"0.02 below no adaptation. Chosen: **{v['chosen']}**.\n")
    print("| method | safe | worst min(sens, spec) | worst sensitivity | worst specificity |")
    print("|---|---|---|---|---|")
    for name, verdict in sorted(v["verdict"].items(), key=lambda kv: -kv[1]["worst_min_sens_spec"]):
        rows = [v["summary"][s][p][name] for s in shifts for p in v["summary"][s]]
        print(f"| {name} | {'yes' if verdict['safe'] else 'no'} | {verdict['worst_min_sens_spec']:.3f} | "
              f"{min(r['sensitivity']['mean'] for r in rows):.3f} | {min(r['specificity']['mean'] for r in rows):.3f} |")


def by_shift() -> None:
    """Per shift, the worst prevalence's mean sensitivity/specificity of the source threshold and the chosen method."""
    v = json.loads((MODEL / f"{STUDY}_val.json").read_text())
    chosen = v["chosen"]
    if chosen not in next(iter(next(iter(v["summary"].values())).values())):
        return
    print(f"\nPer shift, the worst over prevalences of the mean: source threshold ({BASELINE}) against {chosen}.\n")
    print(f"| shift | sensitivity, {BASELINE} | sensitivity, {chosen} | specificity, {BASELINE} | specificity, {chosen} |")
    print("|---|---|---|---|---|")
    for s, by_p in v["summary"].items():
        cells = [min(by_p[p][m][k]["mean"] for p in by_p) for k in ("sensitivity", "specificity")
                 for m in (BASELINE, chosen)]
        print(f"| {s} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


def test() -> None:
    t = json.loads((MODEL / f"{STUDY}_test.json").read_text())
    took = f"; {t['wall_seconds']:.0f} s on {t['device']}" if "wall_seconds" in t else ""
    print(f"\nTest split, {t['draws']} draws per prevalence (n={t['n']}, {t['patients']} patients{took}): mean "
          "(2.5th–97.5th percentile over draws; 5th percentile where recorded).\n")
    print("| prevalence | method | sensitivity | specificity | accuracy | estimated prevalence |")
    print("|---|---|---|---|---|---|")
    for p, by_method in t["summary"]["clean"].items():
        for name, row in by_method.items():
            print(f"| {float(p):.0%} | {name} | " + " | ".join(_cell(row, k) for k in
                  ("sensitivity", "specificity", "accuracy", "estimated_prevalence")) + " |")


if __name__ == "__main__":
    validation()
    if STUDY == "adapt_study":
        by_shift()
    test()
