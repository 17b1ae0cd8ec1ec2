"""Models: the architectures (`efficientnet_lite`, `paper_cnn`), the registry that creates
them by name with their input contract and training defaults (`registry`, as in timm),
inference-time fusion (`fusion`), and a trained model on disk (`bundle`: weights verified by
sha256, with their metadata). Importing this package does not import torch, so the app can
list the shipped models before torch has loaded."""

__all__ = ["registry", "efficientnet_lite", "paper_cnn", "fusion", "bundle"]
