"""The README's results table, rendered from the shipped `eval_test.json` files so the
numbers a reader sees are the numbers a command regenerates (a test checks they match)."""
from __future__ import annotations

import json
from pathlib import Path

from .artifacts import WEIGHTS_DIR, list_models

__all__ = ["results_markdown"]

_KERMANY = "| Kermany et al. 2018 (InceptionV3; checkpoint picked on the test split) | – | 0.968 | 0.928 | 0.932 | 0.901 | – | – |"


def _fmt(m: dict, key: str) -> str:
    v = m[key]
    return f"{v['value']:.3f} ({v['ci_low']:.3f}–{v['ci_high']:.3f})"


def results_markdown(root: Path = WEIGHTS_DIR) -> str:
    rows = ["| model | threshold (from validation) | ROC-AUC | accuracy | sensitivity | specificity | F1 | ECE |",
            "|---|---|---|---|---|---|---|---|"]
    for name in list_models(root):
        path = root / name / "eval_test.json"
        if not path.is_file():
            continue
        e = json.loads(path.read_text())
        t = e["default_threshold"]
        m = e["metrics"][t]
        rows.append(f"| `{name}` | {t} = {e['thresholds'][t]:.3f} | " + " | ".join(
            _fmt(m, k) for k in ("roc_auc", "accuracy", "recall", "specificity", "f1", "ece")) + " |")
    rows.append(_KERMANY)
    return "\n".join(rows)
