"""End to end in a real browser: Debian's Chromium, driven by Playwright, against the
product's launcher (`python -m pneumo_core.app.serve`, which warms the model and then runs
`streamlit run streamlit_app.py`) on localhost.

`make test` installs chromium with apt before pytest. A missing browser is a failure
with instructions, never a skip: a skipped end-to-end test looks like a passing one.
Every request the browser makes is recorded: none may leave for another host (a hospital
network reaches no font CDN). Screenshots go to pytest's tmp_path (their paths are
printed); times are printed, not asserted (`benchmarks/app_timings.py` measures them).
"""
from __future__ import annotations

import re
import time
import urllib.parse
from pathlib import Path

import pytest

from pneumo_core.app.runtime import paths, resources
from pneumo_core.app.site import site_page
from harness.local_server import CHROMIUM, local_server, wait_idle

pytestmark = pytest.mark.browser

SLOW = 240_000  # ms; a shared 2-core machine can be slow, and the first CAM warms up oneDNN


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get update && apt-get install -y chromium` "
                    "(`make test` does this); Playwright's own browser download is not used here.")
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with local_server(log, timeout_s=240) as running:  # the launcher warms the model before it serves
        yield running.url, log


def _wait_idle(page) -> None:
    wait_idle(page, SLOW / 1000)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()


def _open(page, url_path: str, title: str) -> None:
    """Clicks the sidebar link and waits until that page's own title is shown and its run
    has finished (the old page's "not running" state must not count)."""
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]').click()
    page.wait_for_url(f"**/{url_path}")
    page.locator("h1", has_text=title).first.wait_for(timeout=SLOW)
    _wait_idle(page)
    _no_exception(page)


def _wait_count(page, selector: str, n: int) -> int:
    page.wait_for_function(f"document.querySelectorAll({selector!r}).length >= {n}", timeout=SLOW)
    return page.locator(selector).count()


def _loaded_images(page, n: int) -> int:
    js = ("[...document.querySelectorAll('[data-testid=stImage] img')]"
          ".filter(i => i.complete && i.naturalWidth > 0).length")
    page.wait_for_function(f"({js}) >= {n}", timeout=SLOW)
    return page.evaluate(js)


def _foreign_hosts(page, url: str) -> list[str]:
    """Starts recording every host other than the app's own that the page asks for."""
    own = urllib.parse.urlsplit(url).netloc
    hosts: list[str] = []

    def record(request) -> None:
        parts = urllib.parse.urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != own:
            hosts.append(request.url)
    page.on("request", record)
    return hosts


def _x_range(page, scope: str = "") -> list[float]:
    return page.evaluate(f"[...document.querySelectorAll('{scope} .js-plotly-plot')].at(-1)._fullLayout.xaxis.range")


def test_upload_score_step_zoom_and_report_in_a_real_browser_asking_no_other_host(server, browser, tmp_path):
    url, log = server
    examples = paths.example_files()
    normal = next(p for p in examples if (paths.DATA_DIR / "test/NORMAL" / p.name).is_file())
    pneumonia = next(p for p in examples if (paths.DATA_DIR / "test/PNEUMONIA" / p.name).is_file())
    page = browser.new_page(viewport={"width": 1500, "height": 2400})
    foreign = _foreign_hosts(page, url)
    try:
        t0 = time.monotonic()
        page.goto(url)
        page.locator('[data-testid="stSidebar"] .st-key-opacity').wait_for(timeout=SLOW)
        print(f"\n[browser] page load to complete sidebar: {time.monotonic() - t0:.1f} s")
        page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW)
        t1 = time.monotonic()
        page.set_input_files(".st-key-uploads input[type=file]", [str(normal), str(pneumonia)])
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=SLOW)
        print(f"[browser] upload to first result: {time.monotonic() - t1:.1f} s")
        _wait_idle(page)
        _no_exception(page)
        values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        assert len(values) == 1 and values[0].strip().endswith("%"), values  # one case at a time
        assert page.locator('[data-testid="stText"]', has_text=normal.name).count() == 1  # the case shown
        assert page.get_by_text("explains", exact=False).count() >= 1
        assert page.get_by_text(re.compile(r"^Check: ")).count() == 1  # the map's check (its shortcut check apart)
        assert page.get_by_text(re.compile(r"^Shortcut check: ")).count() == 1

        # zoom: the modebar's zoom-in narrows the film's x range
        plot = page.locator(".js-plotly-plot").first
        plot.wait_for(timeout=SLOW)
        before = _x_range(page)
        plot.hover()
        page.locator('.js-plotly-plot .modebar-btn[data-title="Zoom in"]').first.click()
        page.wait_for_function("([r]) => { const g = [...document.querySelectorAll('.js-plotly-plot')].at(-1);"
                               " const x = g._fullLayout.xaxis.range; return x[1] - x[0] < r[1] - r[0]; }",
                               arg=[before], timeout=SLOW)
        after = _x_range(page)
        assert after[1] - after[0] < before[1] - before[0]

        # full view: a dialog with the film, large
        page.get_by_role("button", name="Full view").click()
        dialog = page.get_by_role("dialog")
        dialog.locator(".js-plotly-plot").wait_for(timeout=SLOW)
        assert dialog.locator(".js-plotly-plot").bounding_box()["height"] >= 700
        shots = {"full_view": tmp_path / "full_view.png"}
        page.screenshot(path=shots["full_view"])
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=SLOW)

        # the report: typed fields, then the PDF
        page.get_by_text("Report fields and PDF").click()
        page.get_by_label("Accession number").fill("ACC-BROWSER-1")
        page.get_by_label("Accession number").press("Enter")
        _wait_idle(page)
        with page.expect_download(timeout=SLOW) as download:  # the report is drawn on the server on click
            page.get_by_role("button", name="Case report (PDF)").click()
        report = Path(download.value.path()).read_bytes()
        assert report.startswith(b"%PDF") and download.value.suggested_filename.endswith("_report.pdf")

        # the next case
        page.get_by_role("button", name="Next →").click()
        page.locator('[data-testid="stText"]', has_text=pneumonia.name).wait_for(timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)
        shots["diagnose"] = tmp_path / "diagnose.png"
        page.screenshot(path=shots["diagnose"])

        _open(page, "evaluation", "Evaluation")
        assert _wait_count(page, ".js-plotly-plot", 6) >= 6  # CM, ROC, PR, reliability, learning, comparison
        # stated on the page, from the file
        prevalence = f"{resources.eval_report(paths.DEFAULT_MODEL)['prevalence']:.1%}"
        assert page.get_by_text(prevalence, exact=False).count() >= 1
        shots["evaluation"] = tmp_path / "evaluation.png"
        page.screenshot(path=shots["evaluation"])

        for cls_page, title in (("pneumonia", "PNEUMONIA test cases"), ("normal", "NORMAL test cases")):
            _open(page, cls_page, title)
            assert _wait_count(page, ".js-plotly-plot", 1) >= 1  # the probability histogram
            assert _loaded_images(page, 2) >= 2  # gallery cases with their heatmaps
            shots[cls_page] = tmp_path / f"{cls_page}.png"
            page.screenshot(path=shots[cls_page])
        page.locator(".st-key-open_correct_0 button").first.click()  # a thumbnail opens its case
        page.get_by_role("dialog").locator(".js-plotly-plot").wait_for(timeout=SLOW)
        shots["gallery_case"] = tmp_path / "gallery_case.png"
        page.screenshot(path=shots["gallery_case"])
        page.keyboard.press("Escape")

        _open(page, "model_card", "Model card")
        assert page.get_by_text("not a diagnosis", exact=False).count() >= 1
        shots["model_card"] = tmp_path / "model_card.png"
        page.screenshot(path=shots["model_card"])
        for name, path in shots.items():
            print(f"[browser] screenshot {name}: {path}")
        assert not foreign, f"the browser asked other hosts than the app's: {foreign}"
    finally:
        page.close()


def test_calibrate_a_site_from_ten_films_per_class_in_a_real_browser(server, browser, tmp_path, test_images):
    import json
    url, log = server
    page = browser.new_page(viewport={"width": 1500, "height": 2400})
    external = _foreign_hosts(page, url)
    try:
        page.goto(url)
        page.wait_for_selector("input[type=file]", state="attached", timeout=SLOW)
        _wait_idle(page)
        _open(page, "calibrate_site", "Calibrate for your site")
        external.clear()
        page.set_input_files(".st-key-site_normal input[type=file]", [str(p) for p in test_images["NORMAL"][:10]])
        _wait_idle(page)
        page.set_input_files(".st-key-site_pneumonia input[type=file]", [str(p) for p in test_images["PNEUMONIA"][:10]])
        _wait_idle(page)
        # how the films were chosen is asked first: nothing is fitted until it is answered
        page.get_by_role("radio", name=site_page.SAMPLING[site_page.CONSECUTIVE]).check(force=True)
        download_button = page.get_by_role("button", name="Download the profile (JSON)")
        download_button.wait_for(timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)
        assert page.get_by_text("Cross-fitted estimates at the balanced threshold").count() == 1
        assert page.locator('[data-testid="stDataFrame"]').count() >= 1  # the estimates table
        assert _wait_count(page, ".js-plotly-plot", 3) >= 3  # reliability, ROC, the study's learning curve
        assert page.get_by_role("button", name="Use this profile in this session").count() == 1
        with page.expect_download(timeout=SLOW) as download:
            download_button.click()
        profile = json.loads(Path(download.value.path()).read_text())
        assert profile["counts"] == {"NORMAL": 10, "PNEUMONIA": 10}
        assert {"accuracy", "sensitivity", "specificity", "ece"} <= set(profile["estimates"])
        assert download.value.suggested_filename.endswith(".json")
        shot = tmp_path / "calibrate_site.png"
        page.screenshot(path=shot, full_page=True)
        print(f"\n[browser] screenshot calibrate_site: {shot}")
        assert not external, f"the browser asked other hosts than the app's: {external}"
    finally:
        page.close()


def test_pick_in_the_case_list_drop_more_films_and_next_keeps_the_batch_in_a_real_browser(server, browser):
    """Issue #29, item 4, as the radiologist did it: one film, picked in the case list, two
    more dropped, "Next →". It raised `ValueError: invalid literal for int() ... '1 of 1: …'`
    and the films were gone from the uploader after that."""
    url, _ = server
    films = paths.example_files()[:3]
    page = browser.new_page(viewport={"width": 1440, "height": 2400})
    chips = '.st-key-uploads [data-testid="stFileChip"]'
    try:
        page.goto(url)
        page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW)
        page.set_input_files(".st-key-uploads input[type=file]", [str(films[0])])
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=SLOW)
        _wait_idle(page)
        page.locator(".st-key-case_list").click()
        page.get_by_role("option", name=f"1 of 1: {films[0].name}").click()
        _wait_idle(page)
        page.set_input_files(".st-key-uploads input[type=file]", [str(f) for f in films[1:]])  # added to the first
        _wait_count(page, chips, 3)
        _wait_idle(page)
        page.locator(".st-key-case_next button").click()
        page.locator('[data-testid="stText"]', has_text=films[1].name).first.wait_for(timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)
        assert page.locator(chips).count() == 3
        page.locator(".st-key-case_next button").click()
        page.locator('[data-testid="stText"]', has_text=films[2].name).first.wait_for(timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)
        assert page.locator(chips).count() == 3 and page.locator(".st-key-case_next button").is_disabled()
    finally:
        page.close()


_FILM_MEAN = """async (scope) => {  // the mean grey of the film the page drew (its image trace's PNG)
    const g = [...document.querySelectorAll(scope + ' .js-plotly-plot')].at(0);
    const img = new Image(); img.src = g.data[0].source; await img.decode();
    const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data; let s = 0;
    for (let i = 0; i < d.length; i += 4) s += d[i];
    return s / (d.length / 4); }"""


def _film_source(page, scope: str = "") -> str:
    return page.evaluate(f"[...document.querySelectorAll('{scope} .js-plotly-plot')].at(0)?.data?.[0]?.source")


def _after_key(page, key: str, scope: str = "") -> float:
    """Presses `key` and waits until the film the page draws has changed; returns its mean grey."""
    before = _film_source(page, scope)
    page.keyboard.press(key)
    page.wait_for_function(f"(b) => {{ const s = [...document.querySelectorAll('{scope} .js-plotly-plot')].at(0)?.data?.[0]?.source;"
                           " return s !== undefined && s !== b; }",
                           arg=before, timeout=SLOW)
    _wait_idle(page)
    return page.evaluate(_FILM_MEAN, scope)


def _in_view(page, locator) -> dict:
    box = locator.bounding_box()
    vp = page.viewport_size
    assert box is not None, locator
    assert box["y"] >= 0 and box["y"] + box["height"] <= vp["height"], (box, vp)
    assert box["x"] >= 0 and box["x"] + box["width"] <= vp["width"], (box, vp)
    return box


def test_at_1440x900_film_call_and_p_show_without_scrolling_and_the_keys_step_and_window_in_a_real_browser(
        server, browser, tmp_path):
    """Issue #29, items 5 and 6, as the radiologist met them: at 1440x1000 the film was below the
    fold; no key did anything; raising "Level (brightness)" darkened the film; full view lost P,
    the call and window/level. The first case is a DICOM film, whose patient panel sits above P."""
    import datetime

    from harness.orthanc_server import dicom_from_image, new_study
    url, _ = server
    example = paths.example_files()[0]
    dicom = tmp_path / "film.dcm"
    study = new_study("ACC-77", datetime.date(2024, 1, 5), "CR", "DOE^JANE^MARIE", "PAT-00077")
    dicom.write_bytes(dicom_from_image(paths.example_files()[-1], study, "1.2.826.0.1.3680043.8.498.1", 1))
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(url)
        page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW)
        page.set_input_files(".st-key-uploads input[type=file]", [str(dicom), str(example)])
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=SLOW)
        page.locator(".js-plotly-plot").first.wait_for(timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)
        assert page.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") == 0  # nothing scrolled
        film = _in_view(page, page.locator(".js-plotly-plot").first)
        assert film["height"] >= 400  # a film, not a thumbnail
        _in_view(page, page.locator('[data-testid="stMetricValue"]').first)  # P
        call = page.locator('[data-testid="stMain"]').get_by_text(re.compile(r"^(NORMAL|PNEUMONIA) at threshold "))
        _in_view(page, call.first)  # the call
        page.screenshot(path=tmp_path / "viewer_1440x900.png")
        print(f"\n[browser] screenshot viewer at 1440x900: {tmp_path / 'viewer_1440x900.png'}")

        # keys: N and P step the batch
        page.keyboard.press("n")
        page.locator('[data-testid="stText"]', has_text=example.name).first.wait_for(timeout=SLOW)
        _wait_idle(page)
        page.keyboard.press("p")
        page.locator('[data-testid="stText"]', has_text="ACC-77").first.wait_for(timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)

        # H: the film alone (its mean grey is the film's); raising the level brightens it; 0 resets; I inverts
        plain = _after_key(page, "h")
        thumb = page.locator(".st-key-viewer_level input[type=range]")
        before = _film_source(page)
        thumb.focus()
        for _ in range(40):
            page.keyboard.press("ArrowRight")  # the level up, as a reader nudges it
        page.wait_for_function("(b) => { const s = [...document.querySelectorAll('.js-plotly-plot')].at(0)?.data?.[0]?.source;"
                               " return s !== undefined && s !== b; }",
                               arg=before, timeout=SLOW)
        _wait_idle(page)
        level = int(float(thumb.get_attribute("value")))
        brighter = page.evaluate(_FILM_MEAN, "")
        assert level > 128 and brighter > plain + 10, (level, plain, brighter)
        page.evaluate("document.activeElement.blur()")  # the slider lets go of the keyboard
        assert abs(_after_key(page, "0") - plain) < 0.5  # reset: the film as scored
        inverted = _after_key(page, "i")
        assert abs(inverted - (255 - plain)) < 1.0, (plain, inverted)
        _after_key(page, "0")
        _no_exception(page)

        # full view: the film large, with P, the call and window/level beside it, all in view
        page.get_by_role("button", name="Full view").click()
        dialog = page.get_by_role("dialog")
        dialog.locator(".js-plotly-plot").wait_for(timeout=SLOW)
        _wait_idle(page)
        assert dialog.locator(".js-plotly-plot").bounding_box()["height"] >= 600
        _in_view(page, dialog.get_by_text("called", exact=False).first)
        _in_view(page, dialog.locator(".st-key-full_viewer_level"))
        page.screenshot(path=tmp_path / "full_view_1440x900.png")
        page.keyboard.press("Escape")
    finally:
        page.close()


def test_in_the_gallery_dialog_the_check_shows_beside_the_film_without_scrolling_in_a_real_browser(
        server, browser, tmp_path):
    """Issue #29, item 5: in the gallery's case dialog the heatmap's check sat under a 700-pixel
    film, off-screen."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(url)
        page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW)
        _wait_idle(page)
        _open(page, "pneumonia", "PNEUMONIA test cases")
        page.locator(".st-key-open_correct_0 button").first.click()
        dialog = page.get_by_role("dialog")
        dialog.locator(".js-plotly-plot").wait_for(timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)
        _in_view(page, dialog.locator(".js-plotly-plot"))
        _in_view(page, dialog.get_by_text("Check:", exact=False).first)
        _in_view(page, dialog.get_by_text(re.compile(r"called (NORMAL|PNEUMONIA) at threshold")).first)
        page.screenshot(path=tmp_path / "gallery_dialog_1440x900.png")
        print(f"\n[browser] screenshot gallery dialog: {tmp_path / 'gallery_dialog_1440x900.png'}")
    finally:
        page.close()
