"""One decision rule: every caller (predictor, metrics, app table) calls PNEUMONIA at P >= threshold,
checked through what each caller produces for a film scored exactly at its threshold."""
import numpy as np

from pneumo_core.app.reading.cases import CaseResult, result_rows
from pneumo_core.inference.prediction import Prediction
from pneumo_core.stats.decision import call_label
from pneumo_core.stats.metrics import confusion_counts


def test_a_tie_with_the_threshold_is_called_pneumonia():
    assert call_label(0.3, 0.3) == "PNEUMONIA" and call_label(np.nextafter(0.3, 0), 0.3) == "NORMAL"


def test_a_film_exactly_at_its_threshold_is_pneumonia_for_the_predictor_the_metrics_and_the_app(default_predictor,
                                                                                               test_images):
    data = test_images["NORMAL"][0].read_bytes()
    p = default_predictor.predict_bytes(data, "a.jpeg").probability
    at, above = default_predictor.predict_bytes(data, "a.jpeg", threshold=p), \
        default_predictor.predict_bytes(data, "a.jpeg", threshold=float(np.nextafter(p, 1)))
    assert (at.label, above.label) == ("PNEUMONIA", "NORMAL")
    tn, fp, fn, tp = confusion_counts(np.array([1, 1]), np.array([p, p]), p)
    assert (tp, fn) == (2, 0)
    rows = result_rows([CaseResult.scored(Prediction("a", p, None, p, "m"), "0" * 64)], p, "balanced")
    assert rows[0]["label"] == "PNEUMONIA"
