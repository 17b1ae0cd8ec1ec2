"""The README's results tables, rendered from shipped artifacts so the numbers a reader sees
are the numbers a command regenerates (a test checks they match): out of the box from
`eval_test.json`, calibrated for the site from `site_study_test.json`, adapted without labels
from `adapt_study_test.json`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..models.bundle import WEIGHTS_DIR, list_models

__all__ = ["results_markdown", "site_results_markdown", "adapt_results_markdown", "SITE_TABLE_SIZES"]

SITE_TABLE_SIZES = ("50", "100")

_KERMANY = "| Kermany et al. 2018 (InceptionV3; checkpoint picked on the test split) | – | 0.968 | 0.928 | 0.932 | 0.901 | – | – |"


def _fmt(m: dict, key: str) -> str:
    v = m[key]
    return f"{v['value']:.3f} ({v['ci_low']:.3f}–{v['ci_high']:.3f})"


def _over_draws(row: dict, key: str) -> str:
    v = row[key]
    return f"{v['mean']:.3f} ({v['p2_5']:.3f}–{v['p97_5']:.3f})"


def _records(root: Path, filename: str) -> Iterator[tuple[str, dict]]:
    """(model, record) for each shipped model that has `filename` in its bundle."""
    for name in list_models(root):
        path = root / name / filename
        if path.is_file():
            yield name, json.loads(path.read_text())


def results_markdown(root: Path = WEIGHTS_DIR) -> str:
    rows = ["| model | threshold (from validation) | ROC-AUC | accuracy | sensitivity | specificity | F1 | ECE |",
            "|---|---|---|---|---|---|---|---|"]
    for name, e in _records(root, "eval_test.json"):
        t = e["default_threshold"]
        m = e["metrics"][t]
        rows.append(f"| `{name}` | {t} = {e['thresholds'][t]:.3f} | " + " | ".join(
            _fmt(m, k) for k in ("roc_auc", "accuracy", "recall", "specificity", "f1", "ece")) + " |")
    rows.append(_KERMANY)
    return "\n".join(rows)


def site_results_markdown(root: Path = WEIGHTS_DIR) -> str:
    """Mean and 95% range over the study's draws, per model and number of labelled films."""
    rows = ["| model | labelled films from the site | accuracy | sensitivity | specificity | F1 | ECE | Brier |",
            "|---|---|---|---|---|---|---|---|"]
    for name, study in _records(root, "site_study_test.json"):
        for n in SITE_TABLE_SIZES:
            row = study["sizes"][n]
            rows.append(f"| `{name}` | {n} | " + " | ".join(
                _over_draws(row, k) for k in ("accuracy", "recall", "specificity", "f1", "ece", "brier")) + " |")
    return "\n".join(rows)


def adapt_results_markdown(root: Path = WEIGHTS_DIR) -> str:
    """The label-free operating-point study on the test split: per model and prevalence,
    sensitivity and specificity at the model's own threshold and at the one fitted on the
    site's films (mean over draws, and the 5th percentile: how bad a bad draw is)."""
    rows = ["| model | site prevalence | sensitivity as shipped | fitted to the site | specificity as shipped | "
            "fitted to the site | fell back |",
            "|---|---|---|---|---|---|---|"]
    for name, study in _records(root, "adapt_study_test.json"):
        for prevalence, by_method in study["summary"]["clean"].items():
            fitted = next(m for m in by_method if m != "none")
            cells = [f"{by_method[m][k]['mean']:.3f} (5th pct {by_method[m][k]['p5']:.3f})"
                     for k in ("sensitivity", "specificity") for m in ("none", fitted)]
            rows.append(f"| `{name}` | {float(prevalence):.0%} | " + " | ".join(cells)
                        + f" | {by_method[fitted]['fallback']['mean']:.0%} |")
    return "\n".join(rows)
