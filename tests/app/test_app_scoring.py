"""Tests for pneumo_core.app.scoring: a slider move must not re-run the network.

Each test name says the failure it guards against. Numbers are read from the shipped
evaluation files at run time, never hard-coded, so retrained models keep these green.
"""
from __future__ import annotations

import numpy as np
import pytest

from pneumo_core.app import cases, paths, resources, scoring, sidebar


@pytest.fixture(scope="module")
def example_bytes() -> bytes:
    return next(p for p in paths.example_files() if p.name.startswith("person")).read_bytes()


def test_scoring_is_cached_on_content_so_reruns_skip_the_network(monkeypatch, example_bytes):
    from pneumo_core.inference.predictor import Predictor
    resources.import_saliency()  # waits for the warm-up, whose dummy forward pass is not a rerun
    calls = []
    real = Predictor.predict_radiographs
    monkeypatch.setattr(Predictor, "predict_radiographs", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    scoring._score.clear()
    first = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    again = scoring.score_file(paths.DEFAULT_MODEL, bytes(example_bytes), "x.jpeg")
    assert len(calls) == 1 and first.ok and again.probability == first.probability
    assert first.display.dtype == np.uint8 and first.size is not None
    assert cases.label_at(first.probability, 0.0) == "PNEUMONIA" and cases.label_at(first.probability, 1.0) == "NORMAL"


def test_a_bad_upload_comes_back_with_its_error_instead_of_raising():
    r = scoring.score_file(paths.DEFAULT_MODEL, b"%PDF-1.4 not a radiograph", "report.pdf")
    assert not r.ok and r.error and "\n" not in r.error and r.probability is None


def test_heatmap_is_cached_per_class_and_opacity_never_recomputes_it(monkeypatch, example_bytes):
    import pneumo_core.inference.saliency as saliency
    calls = []
    real = saliency.explain
    monkeypatch.setattr(saliency, "explain", lambda *a, **k: calls.append(k.get("target")) or real(*a, **k))
    scoring._heatmap.clear()
    a = scoring.heatmap_for(paths.DEFAULT_MODEL, example_bytes, "x.jpeg", "gradcam", "PNEUMONIA")
    b = scoring.heatmap_for(paths.DEFAULT_MODEL, example_bytes, "x.jpeg", "gradcam", "PNEUMONIA")
    assert calls == ["PNEUMONIA"] and a.target_class == "PNEUMONIA" and np.array_equal(a.heatmap, b.heatmap)
    assert 0.0 <= a.heatmap.min() and a.heatmap.max() <= 1.0 and a.note
    display = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg").display
    assert not np.array_equal(cases.blend(display, a.heatmap, 0.2), cases.blend(display, a.heatmap, 0.8))
    assert calls == ["PNEUMONIA"]


def test_case_report_callable_renders_the_scored_case_on_demand(example_bytes):
    r = scoring.score_file(paths.DEFAULT_MODEL, example_bytes, "x.jpeg")
    hm = scoring.heatmap_for(paths.DEFAULT_MODEL, example_bytes, "x.jpeg", "gradcam", "PNEUMONIA")
    s = sidebar.Settings(paths.DEFAULT_MODEL, "custom", 0.5, "gradcam", 0.5)
    render = scoring.case_report(r, s, "PNEUMONIA", hm, cases.blend(r.display, hm.heatmap, 0.5))
    assert callable(render) and render().startswith(b"%PDF")
