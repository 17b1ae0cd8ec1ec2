"""The Diagnose page never loses a batch: dropping, adding and removing films, stepping,
picking in the case list or the table, switching model, operating point or calibration, in
any order, never raises and never empties the uploader.

Each test name says the failure it guards against. A browser keeps showing the case list's
old label ("1 of 1: a.jpeg") after the batch changed under it and sends that label back with
the next click; AppTest's selectbox only sends labels of the current options, so
`_browser_keeps_label` makes it send the stale one, as Chromium did in issue #29.
"""
from __future__ import annotations

import random

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Selectbox

from pneumo_core.app.runtime import paths

from conftest import results_table, run_app


def _films() -> list[tuple[str, bytes, str]]:
    return [(p.name, p.read_bytes(), "image/jpeg") for p in paths.example_files()]


class _StaleLabel(Selectbox):
    """A selectbox whose browser still shows (and sends) a label of an older batch."""
    stale = ""

    @property
    def _widget_state(self) -> WidgetState:
        ws = WidgetState()
        ws.id = self.id
        ws.string_value = self.stale
        return ws


def _browser_keeps_label(at: AppTest, label: str) -> None:
    box = at.selectbox(key="case_list")
    box.__class__ = _StaleLabel
    box.stale = label


def _assert_batch_kept(at: AppTest, files: list[tuple[str, bytes, str]]) -> None:
    """No exception, the uploader still drawn and holding `files`, the table listing them and
    the case shown one of them."""
    assert not at.exception, at.exception[0].message if at.exception else ""
    drawn = [u for u in at.file_uploader if u.key == "uploads"]
    assert len(drawn) == 1, "the uploader was not drawn: its films are dropped on the next run"
    assert [f.name for f in drawn[0].value or []] == [name for name, _, _ in files]
    names = [name for name, _, _ in files]
    if names:
        assert list(results_table(at).value["file"]) == names
        assert at.text[0].value in names
        assert 0 <= at.session_state["case"] < len(names)


def test_pick_in_the_list_then_drop_more_films_then_next_does_not_raise_on_the_stale_label():
    """Issue #29, item 4: `ValueError: invalid literal for int() with base 10: '1 of 1: …'`."""
    films = _films()
    at = run_app()
    at.file_uploader[0].set_value(films[:1]).run()
    at.selectbox(key="case_list").select_index(0).run()
    stale = at.selectbox(key="case_list").options[0]
    assert stale.startswith("1 of 1: ")
    at.file_uploader[0].set_value(films[:3]).run()  # the browser still shows "1 of 1: ..."
    _assert_batch_kept(at, films[:3])
    _browser_keeps_label(at, stale)
    at.button(key="case_next").click().run()
    _assert_batch_kept(at, films[:3])
    assert at.session_state["case"] == 1 and at.text[0].value == films[1][0]
    at.run()  # the run after: the uploader and the batch are still there
    _assert_batch_kept(at, films[:3])


def test_a_stale_label_sent_with_previous_or_a_list_change_never_becomes_the_case():
    films = _films()
    at = run_app()
    at.file_uploader[0].set_value(films).run()
    at.selectbox(key="case_list").select_index(3).run()
    stale = at.selectbox(key="case_list").options[3]
    at.file_uploader[0].set_value(films[:2]).run()  # the film shown is gone: the last one left is shown
    _assert_batch_kept(at, films[:2])
    assert at.session_state["case"] == 1
    _browser_keeps_label(at, stale)
    at.run()  # the list "changed" to a label of no option
    _assert_batch_kept(at, films[:2])
    assert at.session_state["case"] == 1
    _browser_keeps_label(at, stale)
    at.button(key="case_prev").click().run()
    _assert_batch_kept(at, films[:2])
    assert at.session_state["case"] == 0


def test_removing_a_film_before_the_one_shown_keeps_the_reader_on_that_film():
    films = _films()
    at = run_app()
    at.file_uploader[0].set_value(films[:3]).run()
    at.button(key="case_next").click().run()
    at.button(key="case_next").click().run()
    assert at.text[0].value == films[2][0]
    at.file_uploader[0].set_value([films[0], films[2]]).run()
    _assert_batch_kept(at, [films[0], films[2]])
    assert at.text[0].value == films[2][0] and at.session_state["case"] == 1
    at.file_uploader[0].set_value([films[3], films[0], films[2]]).run()  # one added in front
    assert at.text[0].value == films[2][0] and at.session_state["case"] == 2


def test_emptying_the_uploader_and_dropping_films_again_starts_at_the_first_case():
    films = _films()
    at = run_app()
    at.file_uploader[0].set_value(films).run()
    at.button(key="case_next").click().run()
    at.file_uploader[0].set_value([]).run()
    _assert_batch_kept(at, [])
    at.file_uploader[0].set_value(films[2:]).run()
    _assert_batch_kept(at, films[2:])


def _pick_row(at: AppTest, row: int) -> None:
    at.session_state[results_table(at).key] = {"selection": {"rows": [row], "columns": [], "cells": []}}


def test_a_long_walk_of_every_reading_room_action_never_raises_or_empties_the_uploader():
    """A seeded walk over every action a reader takes, with the stale label a browser may send
    after each change of batch; after each step the batch is checked whole."""
    films, rng = _films(), random.Random(29)
    at = run_app()
    batch = films[:1]
    at.file_uploader[0].set_value(batch).run()
    done = set()
    for _ in range(60):
        action = rng.choice(["add", "remove", "next", "prev", "list", "row", "model", "op", "calibration", "stale"])
        n = len(batch)
        if action == "add" and n < len(films):
            batch = batch + [f for f in films if f not in batch][:1]
            at.file_uploader[0].set_value(batch)
        elif action == "remove" and n > 1:
            batch = [f for i, f in enumerate(batch) if i != rng.randrange(n)]
            at.file_uploader[0].set_value(batch)
        elif action == "next" and not at.button(key="case_next").disabled:
            at.button(key="case_next").click()
        elif action == "prev" and not at.button(key="case_prev").disabled:
            at.button(key="case_prev").click()
        elif action == "list":
            at.selectbox(key="case_list").select_index(rng.randrange(n))
        elif action == "row":
            _pick_row(at, rng.randrange(n))
        elif action == "model":
            box = at.sidebar.selectbox(key="model")
            box.set_value(next(m for m in box.options if m != box.value))
        elif action == "op":
            radio = at.sidebar.radio(key="op")  # labels start with the preset's name
            radio.set_value(rng.choice([o.split(" ")[0] for o in radio.options if o.split(" ")[0] != radio.value]))
        elif action == "calibration":
            box = at.sidebar.selectbox(key="calibration")
            box.set_value("source" if box.value != "source" else "shipped:kermany-test")
        elif action == "stale":
            _browser_keeps_label(at, f"1 of {n + 1}: {films[0][0]}")
            if not at.button(key="case_next").disabled:
                at.button(key="case_next").click()
        else:
            continue
        at.run()
        done.add(action)
        _assert_batch_kept(at, batch)
    assert done >= {"add", "remove", "next", "list", "row", "model", "op", "calibration", "stale"}


def test_a_colour_photos_warning_is_said_once_on_the_case_and_once_in_its_table_cell():
    """Issue #29, item 8: "image has colour" appeared twice on the case and twice in its cell,
    once on its own and once inside the input gate's "not assessed: ..." reason."""
    import io

    import numpy as np
    from PIL import Image
    grey = np.asarray(Image.open(paths.example_files()[0]).convert("L").resize((512, 512)))
    sepia = np.stack([grey, (grey * 0.8).astype(np.uint8), (grey * 0.5).astype(np.uint8)], axis=-1)
    buf = io.BytesIO()
    Image.fromarray(sepia).save(buf, "JPEG")
    at = run_app()
    at.file_uploader(key="uploads").set_value([("sepia.jpeg", buf.getvalue(), "image/jpeg")]).run()
    assert not at.exception
    cell = results_table(at).value["warnings / error"][0]
    assert cell.count("image has colour") == 1, cell
    assert sum(w.value.lower().count("image has colour") for w in at.warning) == 1, [w.value for w in at.warning]
