"""Scoring films with a shipped model: the shared, thread-safe `predictor` (probability, call,
warnings), the out-of-distribution score and image checks (`ood`), and Grad-CAM family
heatmaps (`saliency`)."""

__all__ = ["predictor", "ood", "saliency"]
