"""A trained model on disk: `weights/<name>/{model.pt, model.json, history.json, ood.npz}`.

`model.pt` is a bare state_dict, read with `weights_only=True` after its sha256 matches
the one recorded in `model.json`, so a swapped or corrupted file is refused before
PyTorch parses it.

Importing this module does not import torch (the app's first page needs the paths and the
model list before torch has loaded); saving and loading do.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PneumoError
from ..io.home import home
from .metadata import MetadataError, ModelMetadata, read_metadata, write_metadata

if TYPE_CHECKING:
    from torch import nn

    from ..data.preprocess import InputSpec

__all__ = ["WEIGHTS_DIR", "DATA_DIR", "ModelBundle", "WeightsError", "sha256_file", "save_bundle", "load_bundle",
           "list_models", "resolve_model_dir", "DEFAULT_MODEL"]

WEIGHTS_DIR = home() / "weights"  # the shipped models, in the home (`io.home`: PNEUMO_HOME or the package's copy)
DATA_DIR = home() / "data"  # the shipped copy of the official test split (data/test/...)
DEFAULT_MODEL = "efficientnet_lite0"


class WeightsError(PneumoError, RuntimeError):
    """Weights are missing, corrupted or do not match their metadata."""


@dataclass
class ModelBundle:
    name: str
    model: nn.Module
    meta: ModelMetadata
    directory: Path

    @property
    def spec(self) -> InputSpec:
        from ..data.preprocess import InputSpec
        return InputSpec.from_dict(self.meta.input)

    @property
    def arch(self) -> str:
        return self.meta.architecture

    @property
    def temperature(self) -> float:
        return self.meta.temperature

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.meta.thresholds)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(directory: str | Path, model: nn.Module, meta: ModelMetadata) -> Path:
    """Writes model.pt, then model.json with the file's sha256 in it."""
    import torch
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, d / "model.pt")
    write_metadata(replace(meta, model_sha256=sha256_file(d / "model.pt")), d / "model.json")
    return d


def resolve_model_dir(name_or_dir: str | Path | None, allow_paths: bool = True) -> Path:
    """A shipped model's name (`efficientnet_lite0`), or, where `allow_paths` (the command
    line), a directory path. The app passes `allow_paths=False`: a name typed into a web page
    must never reach an arbitrary folder on the server."""
    if name_or_dir is None:
        name_or_dir = DEFAULT_MODEL
    if str(name_or_dir) in list_models():
        return WEIGHTS_DIR / str(name_or_dir)
    if allow_paths and (Path(name_or_dir) / "model.json").is_file():
        return Path(name_or_dir)
    raise WeightsError(f"unknown model {str(name_or_dir)!r}; shipped: {', '.join(list_models()) or 'none'}")


def load_bundle(name_or_dir: str | Path | None = None) -> ModelBundle:
    import torch

    from ..data.preprocess import InputSpec
    from .registry import create_model

    d = resolve_model_dir(name_or_dir)
    try:
        meta = read_metadata(d / "model.json")
    except MetadataError as exc:
        reason = str(exc).replace(str(d / "model.json"), "model.json")
        raise WeightsError(f"{d} does not describe a loadable model ({reason}); refusing to load it") from None
    weights = d / "model.pt"
    if not weights.is_file():
        raise WeightsError(f"{weights} is missing")
    if not meta.model_sha256:
        raise WeightsError(f"{d / 'model.json'} records no model_sha256, so {weights} cannot be verified; refusing to load it")
    actual = sha256_file(weights)
    if actual != meta.model_sha256:
        raise WeightsError(f"{weights} does not match its model.json (sha256 {actual[:12]}... != "
                           f"{meta.model_sha256[:12]}...); refusing to load it")
    try:
        model = create_model(meta.architecture, InputSpec.from_dict(meta.input))
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # unknown arch, bad input block, wrong tensors
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise WeightsError(f"{d} does not describe a loadable model ({type(exc).__name__}: {reason}); "
                           "refusing to load it") from None
    model.eval()
    return ModelBundle(name=meta.name, model=model, meta=meta, directory=d)


def list_models(root: Path = WEIGHTS_DIR) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/model.json"))
