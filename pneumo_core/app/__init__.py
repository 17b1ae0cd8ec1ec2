"""What the Streamlit pages compute and draw, kept in `pneumo_core` so a plain pytest can
check it. One job per module; the pure ones import neither Streamlit nor torch:

* `paths`: where the shipped models, bundled examples and test images are;
* `formatting`: probabilities, numbers, CIs, safe markdown and file names, the disclaimer;
* `cases`: one scored input (`CaseResult`), its call, table rows, CSV, display and overlay;
* `eval_views`: eval_test.json at any threshold: confusion, metrics with CIs, galleries;
* `model_card`: rows and captions read from model.json / eval_test.json at the presets;
* `figures`: plotly figures;
* `resources`: the cached loaders (JSON files, the Predictor); `warmup`: the background warm-up;
* `scoring`: cached scores and heatmaps of uploads and test images, the case report;
* `sidebar`: the shared sidebar (model, calibration, operating point) and the `Settings` it hands to pages;
* `widgets`: composite UI the pages share (galleries, the per-class page);
* `viewer`: the film in plotly (zoom, pan, display-only window/level, heatmap overlay or side by side, full view);
* `case_view`: one case at a time (previous/next, a table row opens its case) and the case itself;
* `report_form`: the reader's typed report fields (accession number, impression, sign-off);
* `calibration_choice`, `operating_controls`, `operating_point`: the sidebar's calibration choice, its
  operating-point controls, and what the threshold means for patients;
* `training_card`: the model card's training-protocol rows;
* `site_uploads`, `site_page`, `site_figures`: the Calibrate-for-your-site page's uploads, fit and figures;
* `pacs_page`: the PACS page's servers (from configuration only), search, study scoring and report storage;
* `serve`: the launcher (`make run`) that warms the model before the server takes requests;

Nothing is imported here, so a page pays only for the modules it uses.
"""

__all__ = ["paths", "formatting", "cases", "eval_views", "model_card", "figures", "resources", "scoring",
           "sidebar", "widgets", "viewer", "case_view", "report_form", "calibration_choice", "operating_controls",
           "operating_point", "training_card", "site_uploads", "site_page", "site_figures", "pacs_page", "serve",
           "warmup"]
