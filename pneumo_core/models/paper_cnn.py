"""The seed paper's CNN: stacked conv/batch-norm/ReLU/max-pool blocks, dropout, a dense
head and a single logit. Kept as the baseline the product must beat."""
from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
    )


class PaperCNN(nn.Module):
    def __init__(self, in_channels: int = 1, widths: tuple[int, ...] = (32, 64, 128, 256), dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for i, w in enumerate(widths):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers.append(_block(cin, w))
            cin = w
        # the CAM layer the product hooks is the registry's `target_layer` (one of these blocks)
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(cin, 128), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.fc = nn.Linear(128, 1)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """What enters `blocks[0]`: the film itself."""
        return x

    def features_from(self, h: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Pooled features from `h`, the input of `blocks[start]` (see EfficientNetLite0)."""
        return self.pool(self.blocks[start:](h)).flatten(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (pooled) features, used by the out-of-distribution score."""
        return self.features_from(self.stem(x))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.head(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))
