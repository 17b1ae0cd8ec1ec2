"""`adapt-study`: the draws of `threshold_study` over a labelled split, with the record it
writes. On validation every candidate runs under every simulated shift and the selection
rule picks the method; on any other split the shipped method runs beside the source
threshold, on the films as they are, by the committed test protocol."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from ..adaptation.score_mixture import MIXTURES, ScoreMixture
from ..adaptation.source import load_source_scores, source_prevalence
from ..calibration.recalibration import logit
from .score_cache import shifted_scores
from .site_shifts import SCORE_SHIFTS, SITE_SHIFTS
from .adaptation_study import report_shift
from .threshold_study import NONE, PREVALENCES, ROW, SELECTION_RULE, TEST_PROTOCOL, choose, run_draws, summarise

if TYPE_CHECKING:
    from ..models.bundle import ModelBundle

__all__ = ["run_threshold_study"]


def _line(shift: str, prevalence: str, name: str, row: dict) -> str:
    return (f"{shift:>16s} {float(prevalence):>4.0%} {name:>27s}: sensitivity {row['sensitivity']['mean']:.3f} "
            f"(p5 {row['sensitivity']['p5']:.3f}) specificity {row['specificity']['mean']:.3f} "
            f"(p5 {row['specificity']['p5']:.3f}) estimated prevalence {row['estimated_prevalence']['mean']:.2f} "
            f"fallback {row['fallback']['mean']:.0%}")


def _device(device: str) -> str:
    if device == "cpu":
        return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {os.cpu_count()} cores"
    return f"{device}: {torch.cuda.get_device_name(0)}"


def run_threshold_study(bundle: ModelBundle, images_u8: np.ndarray, labels: np.ndarray, patients: np.ndarray, *,
                        split: str, draws: int, seed: int = 0, device: str = "cpu", method: ScoreMixture | None = None,
                        cache: Path | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """The study's record. `method`: the one a non-validation split measures; `cache`: where
    each shift's scores are kept (a stopped run resumes there)."""
    start, cpu = time.time(), time.process_time()
    validation = split == "val"
    shifts = SITE_SHIFTS if validation else {"clean": SITE_SHIFTS["clean"]}
    scores = shifted_scores(bundle.model, bundle.meta.model_sha256, images_u8, bundle.spec, shifts, cache=cache,
                            device=device, progress=(lambda s: progress(f"scored under {s}")) if progress else None)
    source = load_source_scores(bundle.directory)
    threshold = float(logit(bundle.thresholds["balanced"]))
    methods: list = [NONE, *(MIXTURES if validation else [method])]
    conditions = {name: scores[name]["logits"] / bundle.temperature for name in shifts}
    if validation:
        conditions.update({name: move(conditions["clean"], labels) for name, move in SCORE_SHIFTS.items()})
    by_shift, summary, table = {}, {}, []
    for name, s in conditions.items():
        by_shift[name] = run_draws(s, labels, patients, source, methods, draws=draws, seed=seed,
                                   source_threshold=threshold, source_prevalence=source_prevalence(bundle))
        summary[name] = {p: {m: summarise(rows) for m, rows in by_m.items()} for p, by_m in by_shift[name].items()}
        report_shift(name, summary[name], _line, table, progress)
    record = {"model": bundle.name, "model_sha256": bundle.meta.model_sha256, "split": split, "n": int(len(labels)),
              "patients": int(len(set(patients.tolist()))), "draws": draws, "seed": seed,
              "prevalences": list(PREVALENCES), "threshold": bundle.thresholds["balanced"],
              "rule" if validation else "protocol": SELECTION_RULE if validation else TEST_PROTOCOL.format(draws=draws),
              "methods": {NONE: "the source threshold (the model's own balanced threshold)",
                          **{m.name: m.describe() for m in methods if not isinstance(m, str)}},
              "summary": summary}
    if validation:
        chosen, verdict = choose(summary)
        record.update(chosen=chosen, verdict=verdict)
        table.append(f"chosen by the rule: {chosen}")
    else:
        record["draw_rows"] = {"columns": list(ROW), **by_shift["clean"]}
    record.update(device=_device(device), wall_seconds=round(time.time() - start, 1),
                  cpu_seconds=round(time.process_time() - cpu, 1), table=table)
    return record
