"""The "Calibrate for your site" page (`pneumo_core.app.site.site_page`, `site_figures`) and the
page itself driven headless by AppTest. The zip tests need no model; the AppTest ones share
one model load (st.cache_resource) and one scored 10 + 10 sample.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pneumo_core.app.site import site_page
from pneumo_core.app.site.site_uploads import UploadRefused, gather, read_zip

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = str(REPO / "streamlit_app.py")
PAGE = "pages/calibrate_site.py"
TIMEOUT = 240  # the first run imports torch and loads the model on a shared 2-core machine


class _Upload:
    """What the page's uploaders hand over: a name and the bytes."""
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- the zip reader ---------------------------------------------------------------------

def test_zip_in_normal_pneumonia_layout_gives_labelled_films_also_inside_one_wrapping_folder():
    files, notes = read_zip(_zip({"NORMAL/a.jpeg": b"a", "PNEUMONIA/person1_virus_2.jpeg": b"b",
                                  "site/NORMAL/c.png": b"c", "normal/sub/d.jpeg": b"d"}))
    assert sorted((f.key, f.label, f.data) for f in files) == [
        ("NORMAL/a.jpeg", 0, b"a"), ("NORMAL/c.png", 0, b"c"), ("NORMAL/sub/d.jpeg", 0, b"d"),
        ("PNEUMONIA/person1_virus_2.jpeg", 1, b"b")]
    assert notes == []


def test_zip_members_outside_the_class_folders_are_ignored_not_read():
    members = {"NORMAL/a.jpeg": b"a", "notes.txt": b"x", "a/b/NORMAL/deep.jpeg": b"x", "../NORMAL/evil.jpeg": b"x",
               "/PNEUMONIA/abs.jpeg": b"x", "__MACOSX/NORMAL/._a.jpeg": b"x", "NORMAL/.hidden.jpeg": b"x",
               "OTHER/b.jpeg": b"x"}
    files, notes = read_zip(_zip(members))
    assert [f.key for f in files] == ["NORMAL/a.jpeg"]
    assert notes == ["7 zip entries outside NORMAL/ and PNEUMONIA/ ignored"]


def test_a_zip_that_decompresses_past_the_cap_is_refused_before_any_film_is_read(monkeypatch):
    bomb = _zip({"NORMAL/a.jpeg": b"\0" * (2 * 2**20), "PNEUMONIA/b.jpeg": b"b"})
    assert len(bomb) < 2**20 // 10  # small on the wire, large once decompressed
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("decompressed a member of a zip bomb"))
    with pytest.raises(UploadRefused, match="decompress to 2 MB; at most 1 MB"):
        read_zip(bomb, max_bytes=2**20)


def test_a_zip_with_too_many_entries_is_refused():
    with pytest.raises(UploadRefused, match="holds 6 entries; at most 5"):
        read_zip(_zip({f"NORMAL/{i}.jpeg": b"x" for i in range(6)}), max_members=5)


def test_a_file_that_is_not_a_zip_is_refused_with_a_message():
    with pytest.raises(UploadRefused, match="not a readable zip"):
        read_zip(b"PK\x03\x04 but not really")


def test_the_same_film_under_both_labels_is_refused_and_a_repeat_counts_once():
    files, notes = gather([_Upload("a.jpeg", b"A"), _Upload("copy.jpeg", b"A")], [_Upload("b.jpeg", b"B")])
    assert [f.key for f in files] == ["NORMAL/a.jpeg", "PNEUMONIA/b.jpeg"] and "counted once" in notes[0]
    with pytest.raises(UploadRefused, match="both NORMAL and PNEUMONIA"):
        gather([_Upload("a.jpeg", b"A")], [_Upload("b.jpeg", b"A")])


def test_downloaded_profile_json_loads_back_as_the_same_profile():
    from pneumo_core.calibration.site import build_site_profile, load_profile
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 12)
    ids = [f"p{i}" for i in range(24)]
    profile = build_site_profile(rng.normal(2 * y - 1, 1.5), y, ids, ids,
                                 name="x", model="m", model_sha256="0" * 64, n_boot=50)
    assert load_profile(site_page.profile_json(profile).encode()) == profile
    assert site_page.profile_filename(profile) == "x.json"


# --- the page ---------------------------------------------------------------------------



def _films(test_images, n_normal: int, n_pneumonia: int) -> tuple[list, list]:
    as_upload = lambda p: (p.name, p.read_bytes(), "image/jpeg")  # noqa: E731
    return ([as_upload(p) for p in test_images["NORMAL"][:n_normal]],
            [as_upload(p) for p in test_images["PNEUMONIA"][:n_pneumonia]])


def _page(normal: list, pneumonia: list, sampling: str | None = site_page.CONSECUTIVE) -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT)
    at.switch_page(PAGE)
    at.run()
    at.radio(key="site_sampling").set_value(sampling)
    at.file_uploader(key="site_normal").set_value(normal)
    at.file_uploader(key="site_pneumonia").set_value(pneumonia)
    return at.run()


def _estimates(at: AppTest):
    return next((d.value for d in at.dataframe if "95% interval" in d.value.columns), None)


def test_ten_films_per_class_give_estimates_figures_a_download_and_a_profile_the_session_can_use(test_images, monkeypatch):
    from pneumo_core.inference import batch
    calls = []
    original = batch.score_batch
    monkeypatch.setattr(batch, "score_batch", lambda *a, **k: calls.append(1) or original(*a, **k))
    at = _page(*_films(test_images, 10, 10))
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    table = _estimates(at)
    assert table is not None and list(table["estimate"])[:3] == ["Accuracy", "Sensitivity (recall)", "Specificity"]
    assert all(" – " in ci for ci in table["95% interval"])
    assert any("estimates are wide" in w.value for w in at.warning)  # 10 per class: below 50
    assert len(at.get("plotly_chart")) == 3  # reliability, ROC, the study's learning curve
    assert "Download the profile (JSON)" in [b.proto.label for b in at.get("download_button")]
    profile = at.session_state["site_profile_built"][1]
    assert profile.counts == {"NORMAL": 10, "PNEUMONIA": 10} and profile.thresholds["screening"] == pytest.approx(0.2)

    # another cost ratio refits the profile from the cached scores: the films are not scored again
    at.number_input(key="site_cost").set_value(9.0).run()
    assert not at.exception and len(calls) == 1
    profile = at.session_state["site_profile_built"][1]
    assert profile.thresholds["screening"] == pytest.approx(0.1)

    use = at.button(key="site_use")
    assert use.label == "Use this profile in this session" and not use.disabled
    use.click().run()
    assert not at.exception and not at.error
    assert at.session_state["settings"].site.files_sha256 == profile.files_sha256  # the sidebar now calibrates with it
    assert any("In use in this session" in m.value for m in at.success)


def test_nine_normal_films_are_refused_with_the_minimum_per_class_message(test_images):
    at = _page(*_films(test_images, 9, 10))
    assert not at.exception
    assert len(at.error) == 1 and "at least 10 films of each class" in at.error[0].value
    assert "got 9 NORMAL and 10 PNEUMONIA" in at.error[0].value
    assert _estimates(at) is None and not at.get("download_button")


def test_an_unreadable_upload_is_listed_as_skipped_and_the_rest_still_calibrate(test_images):
    normal, pneumonia = _films(test_images, 10, 10)
    at = _page(normal + [("broken.jpeg", b"\xff\xd8\xff\xe0 truncated", "image/jpeg")], pneumonia)
    assert not at.exception and not at.error
    assert any("could not be read" in w.value for w in at.warning)
    skipped = next(d.value for d in at.dataframe if "why it was skipped" in d.value.columns)
    assert list(skipped["file"]) == ["NORMAL/broken.jpeg"]
    assert _estimates(at) is not None


def test_a_zip_in_class_folders_alone_is_enough_to_calibrate(test_images):
    normal, pneumonia = _films(test_images, 10, 10)
    members = {f"site/NORMAL/{n}": d for n, d, _ in normal} | {f"site/PNEUMONIA/{n}": d for n, d, _ in pneumonia}
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT)
    at.switch_page(PAGE)
    at.run()
    at.radio(key="site_sampling").set_value(site_page.CONSECUTIVE)
    at.file_uploader(key="site_zip").set_value([("sample.zip", _zip(members | {"README.txt": b"x"}), "application/zip")])
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["site_profile_built"][1].counts == {"NORMAL": 10, "PNEUMONIA": 10}
    assert any("1 zip entry outside NORMAL/ and PNEUMONIA/ ignored" in c.value for c in at.caption)


def test_the_roc_marks_each_operating_point_at_its_own_sensitivity_and_false_positive_rate():
    from pneumo_core.app.site.site_figures import site_roc_figure
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.15, 0.3, 0.6, 0.25, 0.4, 0.7, 0.9])
    fig = site_roc_figure(y, p, {"balanced": 0.5, "screening": 0.2})
    marks = {t.name.split(" ")[0]: (t.x[0], t.y[0]) for t in fig.data if t.mode == "markers"}
    assert marks == {"balanced": (0.25, 0.5), "screening": (0.5, 1.0)}


def _summary(at: AppTest) -> str:
    return next(t.value for t in at.text if "Site prevalence" in t.value)


def test_the_page_asks_how_the_films_were_chosen_and_says_whose_prevalence_it_fitted_in_each_branch(test_images):
    from pneumo_core.calibration.recalibration import logit
    at = _page(*_films(test_images, 10, 10), sampling=None)
    assert not at.exception and not at.error
    assert site_page.ASK_SAMPLING in [i.value for i in at.info]  # unanswered: nothing fitted
    assert _estimates(at) is None and not at.get("download_button")

    at.radio(key="site_sampling").set_value(site_page.CONSECUTIVE).run()
    consecutive = at.session_state["site_profile_built"][1]
    assert consecutive.site_prevalence == consecutive.sample_prevalence == 0.5
    assert ("Site prevalence 50.0%: the sample's own, as consecutive cases (10 PNEUMONIA of 20 films, 50.0%). "
            "As many PNEUMONIA as NORMAL films is rare among consecutive cases") in _summary(at)

    at.radio(key="site_sampling").set_value(site_page.BY_CLASS).run()
    assert site_page.ASK_PREVALENCE in [i.value for i in at.info] and _estimates(at) is None

    at.number_input(key="site_prevalence").set_value(8.0).run()
    assert not at.exception and not at.error
    by_class = at.session_state["site_profile_built"][1]
    assert by_class.site_prevalence == pytest.approx(0.08) and by_class.sample_prevalence == 0.5
    assert by_class.intercept - consecutive.intercept == pytest.approx(float(logit(0.08) - logit(0.5)))
    assert ("Site prevalence 8.0%, as stated: the films were chosen by class (10 PNEUMONIA of 20 films, 50.0%), "
            "so the probability scale was moved from their prevalence to the site's.") in _summary(at)
    assert _estimates(at) is not None


@pytest.mark.parametrize("sampling, percent, expected", [
    (site_page.CONSECUTIVE, 8.0, None),  # a prevalence left over from the other answer is not used
    (site_page.BY_CLASS, 8.0, 0.08),
])
def test_the_answer_decides_which_prevalence_the_fit_is_given(sampling, percent, expected):
    assert site_page.stated_prevalence(sampling, percent) == expected


@pytest.mark.parametrize("sampling, message", [(None, site_page.ASK_SAMPLING), (site_page.BY_CLASS, site_page.ASK_PREVALENCE)])
def test_an_unanswered_question_is_asked_not_guessed(sampling, message):
    with pytest.raises(UploadRefused) as refused:
        site_page.stated_prevalence(sampling, None)
    assert str(refused.value) == message


def test_consecutive_cases_with_unequal_classes_get_no_caution_about_balance():
    from pneumo_core.calibration.site import build_site_profile
    y = np.repeat([0, 1], [16, 10])
    ids = [f"p{i}" for i in range(26)]
    profile = build_site_profile(np.random.default_rng(1).normal(2 * y - 1, 1.5), y, ids, ids, name="x", model="m",
                                 model_sha256="0" * 64, n_boot=20)
    assert site_page.prevalence_line(profile) == ("Site prevalence 38.5%: the sample's own, as consecutive cases "
                                                  "(10 PNEUMONIA of 26 films, 38.5%).")
