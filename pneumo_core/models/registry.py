"""The model registry: every architecture is created by name, and its input contract,
Grad-CAM target layer and training defaults live beside its constructor (as in timm)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from torch import nn

from ..data.preprocess import InputSpec
from .efficientnet_lite import EfficientNetLite0, load_imagenet
from .paper_cnn import PaperCNN

__all__ = ["ArchSpec", "REGISTRY", "create_model", "target_layer", "arch_names"]


@dataclass(frozen=True)
class ArchSpec:
    name: str
    build: Callable[[InputSpec], nn.Module]
    input: InputSpec
    target_layer: str  # dotted path of the module the Grad-CAM family hooks (chosen on validation: docs/saliency.md)
    description: str
    init_pretrained: Callable[..., nn.Module] | None = None  # (model, checkpoint=None)
    head: tuple[str, ...] = ()  # parameter-name prefixes of the classifier head (its own learning rate)
    train_defaults: dict = field(default_factory=dict)


REGISTRY: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in [
        ArchSpec(
            name="efficientnet_lite0",
            build=lambda s: EfficientNetLite0(in_channels=s.channels),
            input=InputSpec(size=224, channels=1, mean=0.5, std=0.5),
            # 28x28, end of the third stage: the most faithful CAM layer on validation films
            # (benchmarks/saliency_faithfulness.py); the last block (head_act, 7x7) beat random
            # blanking on 17% of films.
            target_layer="_blocks.4",
            description="EfficientNet-Lite0 (3.4M parameters), ImageNet-initialised, fine-tuned; grayscale stem",
            init_pretrained=load_imagenet,
            head=("_fc.",),
            train_defaults=dict(epochs=12, lr=5e-4, batch_size=32, weight_decay=1e-4, patience=4, augment="acquisition",
                                label_smoothing=0.0, mixup=0.0, backbone_lr_scale=1.0, early_stop_from=0.5),
        ),
        ArchSpec(
            name="paper_cnn",
            build=lambda s: PaperCNN(in_channels=s.channels),
            input=InputSpec(size=128, channels=1, mean=0.5, std=0.5),
            target_layer="blocks.4",  # 32x32, the third block: most faithful CAM layer on validation (blocks.6: 48%)
            description="The seed paper's CNN (conv/BN/ReLU/max-pool blocks, dropout, dense head), from scratch",
            head=("head.", "fc."),
            train_defaults=dict(epochs=30, lr=1e-3, batch_size=32, weight_decay=1e-4, patience=6, augment="standard",
                                label_smoothing=0.0, mixup=0.0, backbone_lr_scale=1.0, early_stop_from=0.5),
        ),
    ]
}


def arch_names() -> list[str]:
    return sorted(REGISTRY)


def create_model(name: str, spec: InputSpec | None = None, pretrained: bool | str | Path = False) -> nn.Module:
    """`pretrained`: True loads the architecture's default start (e.g. ImageNet), a path
    loads that checkpoint instead; ignored by architectures trained from scratch."""
    if name not in REGISTRY:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(arch_names())}")
    arch = REGISTRY[name]
    model = arch.build(spec or arch.input)
    if pretrained is not False and arch.init_pretrained is not None:
        model = arch.init_pretrained(model, None if pretrained is True else pretrained)
    return model


def target_layer(model: nn.Module, name: str) -> nn.Module:
    return model.get_submodule(REGISTRY[name].target_layer)
