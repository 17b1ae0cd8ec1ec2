"""At 1440x900 the heatmap's check sits beside the film with the call and P, all in view without
scrolling, on a validation film whose map's strongest cell is on the burned-in "R" (issue #29:
the check was below the fold). In Debian's Chromium, as tests/test_browser.py drives it."""
from __future__ import annotations

import re

import pytest

from conftest import REPO
from test_browser import SLOW, _in_view, _no_exception, _wait_idle, server  # noqa: F401  (the served app)

pytestmark = pytest.mark.browser

FILM = REPO.parent / "shared" / "data" / "chest_xray" / "train" / "PNEUMONIA" / "person1418_virus_2429.jpeg"


def test_at_1440x900_the_check_shows_beside_the_film_with_the_call_and_p_in_a_real_browser(server, browser, tmp_path):
    url, _ = server
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(url)
        page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW)
        page.set_input_files(".st-key-uploads input[type=file]", [str(FILM)])
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=SLOW)
        page.locator(".js-plotly-plot image").first.wait_for(state="attached", timeout=SLOW)
        page.get_by_text("Shortcut check:", exact=False).first.wait_for(state="attached", timeout=SLOW)
        _wait_idle(page)
        _no_exception(page)
        assert page.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") == 0  # nothing scrolled
        film = _in_view(page, page.locator(".js-plotly-plot").first)
        assert film["height"] >= 400
        _in_view(page, page.locator('[data-testid="stMetricValue"]').first)  # P
        main = page.locator('[data-testid="stMain"]')
        _in_view(page, main.get_by_text(re.compile(r"^PNEUMONIA at threshold ")).first)  # the call
        check = _in_view(page, main.locator('[data-testid="stCaptionContainer"]', has_text="Check:").first)
        assert check["x"] > film["x"] + film["width"]  # beside the film
        page.screenshot(path=tmp_path / "check_beside_film_1440x900.png")
        print(f"\n[browser] screenshot: {tmp_path / 'check_beside_film_1440x900.png'}")
    finally:
        page.close()
