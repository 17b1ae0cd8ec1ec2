"""Which heatmap the product shows first, per architecture: chosen on validation films by
the pre-registered rule of `benchmarks/saliency_faithfulness.py` (docs/saliency.md). Kept
apart from `saliency`, and free of torch, so the app's sidebar can show the choice before the
model stack has loaded."""
from __future__ import annotations

__all__ = ["DEFAULT_METHOD", "default_method"]

# The cost-first rule (docs/saliency.md): the fastest map whose top 20% beats random 14x14
# cells on >= 90% of validation films under both the flat and the on-film (infill) blanking
# (no method, exact occlusion included, reached the rule's 3x drop ratio). Lite0: LayerCAM
# cells at _blocks.4 weighted by a 3x3 occlusion (95% / 92%, 11 pass-equivalents); paper_cnn:
# linearised occlusion (92% / 92%, one backward pass). Exact 14x14 occlusion stays a choice.
DEFAULT_METHOD = "layercam-occ3"
_DEFAULT_BY_ARCH: dict[str, str] = {"efficientnet_lite0": "layercam-occ3", "paper_cnn": "linear-occlusion"}

def default_method(arch: str) -> str:
    """The method the product shows first for a model architecture (chosen on validation)."""
    return _DEFAULT_BY_ARCH.get(arch, DEFAULT_METHOD)
