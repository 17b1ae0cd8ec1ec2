"""`model.json`: what a trained model is, how to feed it, and how its logit becomes the
product's probability and call. One schema (`ModelMetadata`), one reader (`read_metadata`)
and one writer (`write_metadata`): training, the maintenance commands and the benchmarks
write through it, the predictor and the app read through it, so a field means the same
everywhere and nothing guesses a default for a missing one.

Top-level fields are typed; the records below them (`validation`, `training`, `ood`,
`calibration`, `hflip_decision`) are the plain dicts their writers produce. A file of another
`schema_version` is refused with a one-line error.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import PneumoError

__all__ = ["SCHEMA_VERSION", "ModelMetadata", "MetadataError", "metadata_from_dict", "read_metadata",
           "write_metadata"]

SCHEMA_VERSION = 2


class MetadataError(PneumoError, ValueError):
    """A model.json that does not follow the schema."""


@dataclass
class ModelMetadata:
    name: str
    architecture: str
    description: str
    input: dict                      # InputSpec.to_dict(): size, channels, mean, std
    classes: list[str]
    output: str
    temperature: float
    thresholds: dict[str, float]     # named operating points on the calibrated probability
    default_threshold: str
    threshold_rule: dict[str, str]   # how each threshold was chosen, in words
    best_epoch: int
    epochs_run: int
    validation: dict                 # metric -> {threshold name -> value}, on clean validation
    validation_counts: dict[str, int]
    train_counts: dict[str, int]
    split_manifest_sha256: str
    training: dict                   # config (every result-deciding setting), wall_seconds, hardware, torch, ...
    ood: dict                        # how the OOD flag is computed (statistics in ood.npz)
    hflip_decision: dict             # whether flips were used, and the evidence
    calibration: dict | None = None  # where the operating point was fitted (calibration.shift), if recorded
    model_sha256: str = ""           # set by `save_bundle` from the weights file it writes
    schema_version: int = SCHEMA_VERSION

    @property
    def default_threshold_value(self) -> float:
        return float(self.thresholds[self.default_threshold])


_FIELDS = {f.name for f in fields(ModelMetadata)}


def metadata_from_dict(d: dict, source: str = "model.json") -> ModelMetadata:
    if not isinstance(d, dict):
        raise MetadataError(f"{source} is not a JSON object")
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise MetadataError(f"{source} has schema version {version!r}, this pneumo_core reads {SCHEMA_VERSION}")
    unknown = sorted(set(d) - _FIELDS)
    if unknown:
        raise MetadataError(f"{source} has fields the schema does not know: {', '.join(unknown)}")
    try:
        meta = ModelMetadata(**d)
    except TypeError as exc:  # a required field is missing
        raise MetadataError(f"{source} is incomplete ({exc})") from None
    meta.thresholds = {k: float(v) for k, v in meta.thresholds.items()}
    meta.temperature = float(meta.temperature)
    if meta.default_threshold not in meta.thresholds:
        raise MetadataError(f"{source}: default_threshold {meta.default_threshold!r} is not one of its thresholds")
    return meta


def read_metadata(path: str | Path) -> ModelMetadata:
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise MetadataError(f"{p} is unreadable ({type(exc).__name__})") from None
    return metadata_from_dict(d, str(p))


def write_metadata(meta: ModelMetadata, path: str | Path) -> Path:
    p = Path(path)
    metadata_from_dict(asdict(meta), str(p))  # never write what the reader would refuse
    p.write_text(json.dumps(asdict(meta), indent=2) + "\n")
    return p
