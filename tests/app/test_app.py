"""The Streamlit app, driven headless by `streamlit.testing.v1.AppTest`.

Each test name says the failure it guards against. The model loads once per process
(st.cache_resource), so only the first test pays for it. The Diagnose page shows one case
at a time: `case_next` / `case_prev` and a row of the results table step through a batch.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pneumo_core.app.review import eval_views
from pneumo_core.app.runtime import paths, resources

from conftest import APP_ENTRYPOINT as ENTRYPOINT, APP_TIMEOUT as TIMEOUT, results_table, run_app
PAGES = ["pages/diagnose.py", "pages/evaluation.py", "pages/normal.py", "pages/pneumonia.py", "pages/model_card.py"]


_app = run_app


def _examples() -> list[tuple[str, bytes, str]]:
    files = paths.example_files()
    normal = next(p for p in files if (paths.DATA_DIR / "test/NORMAL" / p.name).is_file())
    pneumonia = next(p for p in files if (paths.DATA_DIR / "test/PNEUMONIA" / p.name).is_file())
    return [(p.name, p.read_bytes(), "image/jpeg") for p in (normal, pneumonia)]


def _confusion(at: AppTest) -> list[list[int]]:
    for chart in at.get("plotly_chart"):
        trace = json.loads(chart.proto.spec)["data"][0]
        if trace.get("type") == "heatmap":
            z = trace["z"]  # plotly 7 ships arrays as typed binary
            if isinstance(z, dict):
                return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(2, 2).tolist()
            return z
    raise AssertionError("no confusion matrix on the page")


def test_a_deep_link_as_a_fresh_sessions_first_request_still_gets_the_full_app():
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT)
    at.switch_page("pages/evaluation.py")
    at.run()
    assert not at.exception
    assert at.title[0].value.startswith("Evaluation")
    assert at.sidebar.slider(key="threshold_slider") and at.sidebar.selectbox(key="method")


def test_two_uploads_give_a_table_of_both_and_the_first_case_in_the_viewer():
    at = _app()
    at.file_uploader[0].set_value(_examples()).run()
    assert not at.exception
    assert len(at.metric) == 1  # one case at a time
    assert at.metric[0].label == "P(pneumonia), calibrated on validation data" and at.metric[0].value.endswith("%")
    assert [t.value for t in at.text] == [_examples()[0][0]]
    assert len(at.get("plotly_chart")) == 1  # the film with its heatmap, zoomable
    assert any("explains" in c.value for c in at.caption)
    assert sum(el.value.startswith("**Check:** ") for el in [*at.caption, *at.warning]) == 1
    table = results_table(at).value
    assert list(table["file"]) == [name for name, _, _ in _examples()] and table["P(pneumonia)"].notna().all()
    assert at.selectbox(key="case_list").options == [f"{i + 1} of 2: {name}" for i, (name, _, _) in enumerate(_examples())]
    assert not at.error
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels.count("Case report (PDF)") == 1 and "Download the table (CSV)" in labels


def test_next_and_previous_step_through_the_batch_and_stop_at_its_ends():
    at = _app()
    at.file_uploader[0].set_value(_examples()).run()
    names = [name for name, _, _ in _examples()]
    assert at.button(key="case_prev").disabled and not at.button(key="case_next").disabled
    at.button(key="case_next").click().run()
    assert not at.exception and [t.value for t in at.text] == [names[1]] and at.session_state["case"] == 1
    assert at.button(key="case_next").disabled
    at.button(key="case_prev").click().run()
    assert [t.value for t in at.text] == [names[0]]


def test_picking_a_row_of_the_results_table_opens_that_case():
    at = _app()
    at.button[0].click().run()  # the four bundled examples
    table_key = results_table(at).key
    at.session_state[table_key] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    assert not at.exception and at.session_state["case"] == 2
    assert [t.value for t in at.text] == [paths.example_files()[2].name]
    at.run()  # the table is drawn afresh: its old pick does not pull the reader back
    assert results_table(at).key != table_key
    at.button(key="case_next").click().run()
    assert at.session_state["case"] == 3


def test_window_level_changes_the_display_but_not_the_score(monkeypatch):
    from pneumo_core.inference.predictor import Predictor
    at = _app()
    at.file_uploader[0].set_value(_examples()[:1]).run()
    before = (at.metric[0].value, at.get("plotly_chart")[0].proto.spec)
    calls = []
    real = Predictor.predict_radiographs
    monkeypatch.setattr(Predictor, "predict_radiographs", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    at.slider(key="viewer_width").set_value(64).run()
    assert not at.exception and not calls
    assert at.metric[0].value == before[0] and at.get("plotly_chart")[0].proto.spec != before[1]


def test_report_fields_are_kept_per_case_and_never_filled_from_the_files_tags():
    from datetime import date

    from pydicom.uid import generate_uid

    from harness.orthanc_server import dicom_from_image, new_study
    film = next(p for p in paths.example_files() if p.name.startswith("person"))
    tagged = dicom_from_image(film, new_study("ACC-FROM-TAG", date(2026, 1, 2)), generate_uid(), 1)
    at = _app()
    at.file_uploader[0].set_value([("tagged.dcm", tagged, "application/dicom")] + _examples()).run()
    assert not at.exception and at.metric  # the tagged DICOM is scored: its case and report fields are shown
    assert [t.value for t in at.text_input] == ["", ""] and at.text_area[0].value == ""  # its accession tag unused
    at.button(key="case_next").click().run()
    assert [t.value for t in at.text_input] == ["", ""] and at.text_area[0].value == ""
    at.text_input[0].input("ACC-1").run()
    at.text_area[0].input("No consolidation.").run()
    at.button(key="case_next").click().run()
    assert [t.value for t in at.text_input] == ["", ""]  # the second case has its own fields
    at.button(key="case_prev").click().run()
    assert at.text_input[0].value == "ACC-1" and at.text_area[0].value == "No consolidation."


def test_a_corrupt_file_shows_its_one_line_error_and_the_others_are_still_scored():
    at = _app()
    files = _examples()[:1] + [("broken.jpeg", b"\xff\xd8\xff\xe0 truncated jpeg", "image/jpeg")]
    at.file_uploader[0].set_value(files).run()
    assert not at.exception
    assert len(at.metric) == 1 and not at.error  # the first case, scored
    table = results_table(at).value
    at.button(key="case_next").click().run()
    assert len(at.error) == 1 and at.error[0].value.startswith("Not scored:")
    assert list(table["label"])[1] == "not scored" and "ERROR" in list(table["warnings / error"])[1]


def test_a_hostile_file_name_is_shown_as_plain_text_not_markup():
    name = "**bold** <img src=x onerror=alert(1)> [x](http://e.vil) $x$.jpeg"
    at = _app()
    at.file_uploader[0].set_value([(name, _examples()[0][1], "image/jpeg")]).run()
    assert not at.exception
    assert name in [t.value for t in at.text]
    assert not any(name in md.value for md in at.markdown)


def test_extensionless_dicom_is_accepted_and_its_header_shown():
    import pydicom.data
    data = Path(pydicom.data.get_testdata_file("CT_small.dcm")).read_bytes()
    at = _app()
    at.file_uploader[0].set_value([("IMG0001", data, "application/octet-stream")]).run()
    assert not at.exception and not at.error  # read, not refused
    assert any("not a radiograph" in w.value for w in at.warning)  # a CT slice gets a modality warning
    assert any(w.value.startswith("**Not assessed:**") for w in at.warning)  # and no call
    details = at.dataframe[0].value
    assert "DICOM Modality" in list(details["field"])


def test_a_picture_that_is_not_a_radiograph_is_shown_as_not_assessed_without_a_call():
    import io

    from PIL import Image
    photo = (np.random.default_rng(0).random((300, 300, 3)) * 255).astype(np.uint8)  # colour: plainly no film
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    at = _app()
    at.file_uploader[0].set_value([("photo.png", buf.getvalue(), "image/png")]).run()
    assert not at.exception and len(at.metric) == 0  # no probability, no badge
    assert any(w.value.startswith("**Not assessed:**") for w in at.warning)
    assert "1 not assessed" in " ".join(c.value for c in at.caption)
    assert list(results_table(at).value["label"]) == ["not assessed"]


def test_bundled_examples_button_scores_the_examples():
    at = _app()
    at.button[0].click().run()
    assert not at.exception and len(results_table(at).value) == len(paths.example_files()) and len(at.metric) == 1


def test_threshold_slider_changes_the_confusion_matrix_live():
    at = _app("pages/evaluation.py")
    assert not at.exception
    ev = resources.eval_report(paths.DEFAULT_MODEL)
    labels, probs, _ = eval_views.eval_arrays(ev)
    t0 = at.session_state["settings"].threshold
    assert _confusion(at) == eval_views.confusion(labels, probs, t0).tolist()
    at.sidebar.slider(key="threshold_slider").set_value(0.9).run()
    assert not at.exception
    assert at.session_state["op"] == "custom" and at.session_state["settings"].threshold == pytest.approx(0.9)
    at_09 = eval_views.confusion(labels, probs, 0.9).tolist()
    assert _confusion(at) == at_09 != eval_views.confusion(labels, probs, t0).tolist()


def test_switching_model_moves_the_threshold_to_that_models_preset():
    at = _app()
    other = next(m for m in paths.list_models() if m != paths.DEFAULT_MODEL)
    at.sidebar.selectbox(key="model").set_value(other).run()
    assert not at.exception
    s = at.session_state["settings"]
    assert s.model == other
    assert s.threshold == pytest.approx(resources.model_meta(other).thresholds[s.operating_point])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_exception(page):
    at = _app(page, gallery_n=3)  # small galleries: each case costs a CAM on the CPU
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.sidebar.radio(key="op") is not None
    if page != "pages/diagnose.py":
        assert not at.error
    if page in ("pages/normal.py", "pages/pneumonia.py"):
        assert len(at.image) >= 1 and len(at.get("plotly_chart")) == 1
        assert any(b.label == "Open" for b in at.button)
    if page == "pages/evaluation.py":
        assert len(at.get("plotly_chart")) >= 6


def test_under_eigencam_the_gallery_does_not_claim_its_maps_explain_the_called_class():
    at = _app("pages/pneumonia.py", gallery_n=3, method="eigencam")
    assert not at.exception
    footer = at.main.caption[-1].value
    assert "EigenCAM" in footer and "explain the class the model called" not in footer
    at.sidebar.selectbox(key="method").set_value("gradcam").run()
    assert at.main.caption[-1].value.startswith("Heatmaps explain the class the model called")
