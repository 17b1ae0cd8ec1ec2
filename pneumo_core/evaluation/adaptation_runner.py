"""`adapt-study`: the draws of `study` over a labelled split, with the record it writes.
On validation every candidate runs under every simulated shift and the selection rule picks
the method; on any other split the shipped method runs beside no adaptation, on the films as
they are, by the committed test protocol."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from ..data.preprocess import standardise, to_unit
from ..adaptation.method import CANDIDATES, DEFAULT_METHOD, NO_ADAPTATION, AdaptationMethod
from ..adaptation.normalisation import block_sequence
from ..adaptation.source import load_class_moments, source_prevalence
from .adaptation_study import (PREVALENCES, report_shift, SELECTION_RULE, STUDY_SHIFTS, TEST_PROTOCOL, choose_method, method_start, run_draws,
                    summarise)

if TYPE_CHECKING:
    from ..models.bundle import ModelBundle

__all__ = ["run_study"]

_CHUNK = 64


@torch.no_grad()
def _inputs(model: torch.nn.Module, images_u8: np.ndarray, spec, shift: Callable, starts: list[int],
            device: torch.device) -> dict[int, torch.Tensor]:
    """Every film's input to each block in `starts`, under `shift`, through the source prefix."""
    blocks = block_sequence(model)
    found: dict[int, list] = {s: [] for s in starts}
    for i in range(0, len(images_u8), _CHUNK):
        x = standardise(shift(to_unit(torch.from_numpy(images_u8[i:i + _CHUNK]))), spec).to(device)
        h, at = model.stem(x), 0
        for s in sorted(starts):
            h, at = blocks[at:s](h), s
            found[s].append(h)
    return {s: torch.cat(v) for s, v in found.items()}


def _line(shift: str, prevalence: str, name: str, row: dict) -> str:
    return (f"{shift:>15s} {float(prevalence):>4.0%} {name:>20s}: sensitivity {row['sensitivity']['mean']:.3f} "
            f"specificity {row['specificity']['mean']:.3f} [{row['specificity']['p2_5']:.3f}, "
            f"{row['specificity']['p97_5']:.3f}] estimated prevalence {row['estimated_prevalence']['mean']:.2f}")


def run_study(bundle: ModelBundle, images_u8: np.ndarray, labels: np.ndarray, patients: np.ndarray, *, split: str,
              draws: int, seed: int = 0, device: str = "cpu", method: AdaptationMethod = DEFAULT_METHOD,
              progress: Callable[[str], None] | None = None,
              checkpoint: Callable[[dict], None] | None = None) -> dict:
    """The study's record. `method`: the one a non-validation split measures; `checkpoint`
    gets the summary so far after each shift (a long run keeps what it has done)."""
    dev = torch.device(device)
    model = copy.deepcopy(bundle.model).eval().to(dev)
    validation = split == "val"
    methods: tuple[AdaptationMethod, ...] = (CANDIDATES if validation else
                                             tuple({m.name: m for m in (NO_ADAPTATION, method)}.values()))
    shifts = STUDY_SHIFTS if validation else {"clean": STUDY_SHIFTS["clean"]}
    starts = sorted({method_start(model, m) for m in methods})
    moments = load_class_moments(bundle.directory) if any(m.balance == "corrected" for m in methods) else None
    by_shift, summary, table = {}, {}, []
    for name, shift in shifts.items():
        inputs = _inputs(model, images_u8, bundle.spec, shift, starts, dev)
        by_shift[name] = run_draws(model, inputs, labels, patients, methods, draws=draws, seed=seed,
                                   temperature=bundle.temperature, source_prevalence=source_prevalence(bundle),
                                   threshold=bundle.thresholds["balanced"], moments=moments)
        summary[name] = {p: {m: summarise(rows) for m, rows in by_m.items()} for p, by_m in by_shift[name].items()}
        report_shift(name, summary[name], _line, table, progress)
        if checkpoint is not None:
            checkpoint({"split": split, "draws": draws, "summary": summary})
    record = {"model": bundle.name, "model_sha256": bundle.meta.model_sha256, "split": split, "n": int(len(labels)),
              "patients": int(len(set(patients.tolist()))), "draws": draws, "seed": seed,
              "prevalences": list(PREVALENCES), "threshold": bundle.thresholds["balanced"],
              "rule" if validation else "protocol": SELECTION_RULE if validation else TEST_PROTOCOL.format(draws=draws),
              "methods": {m.name: m.describe() for m in methods}, "summary": summary}
    if validation:
        chosen, verdict = choose_method(by_shift, methods)
        record.update(chosen=chosen, verdict=verdict)
        table.append(f"chosen by the rule: {chosen}")
    else:
        record["draw_rows"] = {"columns": ["sensitivity", "specificity", "accuracy", "estimated_prevalence",
                                           "drawn_prevalence"], **by_shift["clean"]}
    record["table"] = table
    return record
