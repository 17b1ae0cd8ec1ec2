"""Prints the Markdown tables of docs/site-adaptation.md from the adaptation study's records
(`python -m pneumo_core adapt-study --split val|test`): python scripts/adaptation_tables.py"""
import json
import sys
from pathlib import Path

MODEL = Path(__file__).resolve().parent.parent / "weights" / (sys.argv[1] if len(sys.argv) > 1 else "efficientnet_lite0")


def _cell(row: dict, key: str) -> str:
    return f"{row[key]['mean']:.3f} ({row[key]['p2_5']:.3f}–{row[key]['p97_5']:.3f})"


def validation() -> None:
    v = json.loads((MODEL / "adapt_study_val.json").read_text())
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


def test() -> None:
    t = json.loads((MODEL / "adapt_study_test.json").read_text())
    print(f"\nTest split, {t['draws']} draws per prevalence (n={t['n']}, {t['patients']} patients): mean (2.5th–97.5th "
          "percentile over draws).\n")
    print("| prevalence | adaptation | sensitivity | specificity | accuracy | estimated prevalence |")
    print("|---|---|---|---|---|---|")
    for p, by_method in t["summary"]["clean"].items():
        for name, row in by_method.items():
            print(f"| {float(p):.0%} | {name} | " + " | ".join(_cell(row, k) for k in
                  ("sensitivity", "specificity", "accuracy", "estimated_prevalence")) + " |")


if __name__ == "__main__":
    validation()
    test()
