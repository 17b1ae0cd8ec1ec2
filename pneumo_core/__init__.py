"""pneumo_core: pneumonia detection on chest radiographs, from decoding to saliency.

One package per concern, listed from the bottom up; a package imports only its own layer and
those below it (`tests/test_house.py` holds this), and nothing here imports the app:

* `audit`, `io`, `stats`: the hash-chained audit trail of who did what; reading any film into one grey image, the CSV and PDF that leave the
  product; metrics with patient-bootstrap intervals and the one decision rule;
* `data`: the dataset's layout, the patient-grouped split, preprocessing, augmentation;
* `models`, `monitoring`: architectures, the registry, a trained model's bundle and its
  `model.json`; the label-free drift alarm on a model's features;
* `calibration`: from logit to probability and call, on validation data or for a site;
* `inference`: the shared `Predictor` with its input gate, out-of-distribution checks and heatmaps;
* `evaluation`, `pacs`: a labelled split measured, and what a threshold means for patients;
  studies read from and reports stored to a PACS over DICOMweb;
* `training`: how the shipped models were trained and their files maintained;
* `cli`, `app`: `python -m pneumo_core` and what the Streamlit pages compute and draw.
"""
__version__ = "0.1.0"
