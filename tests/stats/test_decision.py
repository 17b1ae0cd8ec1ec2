"""One decision rule: every caller (predictor, metrics, app) calls PNEUMONIA at P >= threshold."""
import numpy as np

from pneumo_core.app.cases import label_at
from pneumo_core.stats.decision import call_label, calls_pneumonia
from pneumo_core.stats.metrics import confusion_counts


def test_a_tie_with_the_threshold_is_called_pneumonia():
    assert call_label(0.3, 0.3) == "PNEUMONIA" and call_label(np.nextafter(0.3, 0), 0.3) == "NORMAL"


def test_predictor_app_and_metrics_agree_on_every_call(default_predictor):
    t = 0.37
    probs = np.array([0.0, np.nextafter(t, 0), t, np.nextafter(t, 1), 1.0])
    mine = [call_label(p, t) for p in probs]
    assert mine == [default_predictor.label(p, t) for p in probs] == [label_at(p, t) for p in probs]
    tn, fp, fn, tp = confusion_counts(np.ones(len(probs), int), probs, t)
    assert tp == sum(m == "PNEUMONIA" for m in mine) == int(calls_pneumonia(probs, t).sum())
