"""What the Streamlit pages compute and draw, kept in `pneumo_core` so a plain pytest can
check it. One job per module; the pure ones import neither Streamlit nor torch:

* `paths`: where the shipped models, bundled examples and test images are;
* `formatting`: probabilities, numbers, CIs, safe markdown and file names, the disclaimer;
* `cases`: one scored input (`CaseResult`), its call, table rows, CSV, display and overlay;
* `eval_views`: eval_test.json at any threshold: confusion, metrics with CIs, galleries;
* `model_card`: rows and captions read from model.json / eval_test.json at the presets;
* `figures`: plotly figures;
* `resources`: the cached loaders (JSON files, the Predictor) and the background warm-up;
* `scoring`: cached scores and heatmaps of uploads and test images, the case report;
* `sidebar`: the shared sidebar (model, calibration, operating point) and the `Settings` it hands to pages;
* `widgets`: composite UI the pages share (galleries, the per-class page);
* `site_page`, `site_figures`: the Calibrate-for-your-site page's uploads, fit and figures.

Nothing is imported here, so a page pays only for the modules it uses (the Diagnose page
never imports scikit-learn, which `eval_views` needs).
"""

__all__ = ["paths", "formatting", "cases", "eval_views", "model_card", "figures", "resources", "scoring",
           "sidebar", "widgets", "site_page", "site_figures"]
