"""Scoring films with a shipped model: the shared, thread-safe `predictor` and its per-film
`prediction` (probability, call, warnings), many films at once (`batch`), the input gate
(`gate`, `orientation`), the out-of-distribution score and image checks (`ood`), and heatmaps
(`saliency`; the exact occlusion map and the blanking rules, `occlusion`; the Grad-CAM family,
`cam`; the fast stand-ins for occlusion, `linear_occlusion`; which one is shown first:
`saliency_default`); burned-in markers and the body found on a film (`markers`), and whether the
map's strongest cell rests on one of them, with the score once it is filled in (`shortcut`)."""

__all__ = ["predictor", "prediction", "batch", "gate", "orientation", "ood", "saliency", "saliency_default", "occlusion",
           "cam", "linear_occlusion", "markers", "shortcut"]
