"""Which heatmap the product shows first, per architecture: chosen on validation films by
the pre-registered rule of `benchmarks/saliency_faithfulness.py` (docs/saliency.md). Kept
apart from `saliency`, and free of torch, so the app's sidebar can show the choice before the
model stack has loaded."""
from __future__ import annotations

__all__ = ["DEFAULT_METHOD", "default_method"]

# The occlusion map's top 20% beat random 14x14 cells on 60/60 validation films for the
# default model (Grad-CAM at its last block: 10/60) and 59/60 for paper_cnn, for ~200 forward
# passes per film (about 2 s on 2 free CPU cores).
DEFAULT_METHOD = "occlusion"
_DEFAULT_BY_ARCH: dict[str, str] = {"efficientnet_lite0": "occlusion", "paper_cnn": "occlusion"}


def default_method(arch: str) -> str:
    """The method the product shows first for a model architecture (chosen on validation)."""
    return _DEFAULT_BY_ARCH.get(arch, DEFAULT_METHOD)
