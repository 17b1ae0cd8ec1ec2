"""Regenerates the README's screenshots from the running app.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--width 1400]

Starts the app through its launcher (`python -m pneumo_core.app.serve`, which warms the model
and runs `streamlit run streamlit_app.py`) headless on a free localhost port, drives Debian's
Chromium through Playwright (`apt-get install chromium`; Playwright's own browser download
is not used), and writes:

* `diagnose.png`: the Diagnose page as a reader sees it on a 1440x900 screen without scrolling,
  after uploading one NORMAL and one PNEUMONIA film from `examples/` and pressing N (the next
  case): the PNEUMONIA film with its heatmap, and beside it P, the call and the heatmap check
  (the shortcut check starts at the fold; window/level and the map's legend are below it);
* `evaluation.png`: the Evaluation page of the default model, down to the caption under the
  ROC and PR curves.

Each is downscaled and, if still over `--max-kb`, reduced to a 256-colour palette. The
server is stopped on the way out, whatever happens. The waits follow tests/test_browser.py.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pneumo_core.app.runtime import paths  # noqa: E402
from harness.local_server import CHROMIUM, CHROMIUM_ARGS, local_server  # noqa: E402

SLOW = 300_000  # ms: the first heatmap on a shared 2-core machine can take minutes
SCREEN = {"width": 1440, "height": 900}  # the reading room's target screen (issue #29)


def _wait_idle(page, timeout_s: float = SLOW / 1000) -> None:
    """Until the script run has finished and stayed finished for a moment."""
    deadline = time.time() + timeout_s
    state = '[data-testid="stApp"]'
    while time.time() < deadline:
        if page.get_attribute(state, "data-test-script-state") == "notRunning":
            page.wait_for_timeout(800)
            if page.get_attribute(state, "data-test-script-state") == "notRunning":
                return
        page.wait_for_timeout(250)
    raise RuntimeError("the app was still running after the timeout")


def _no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    if errors.count():
        raise RuntimeError(f"the page shows an exception: {errors.first.inner_text()}")


def _bottom(element) -> float:
    """The bottom edge, in page pixels, of a Playwright locator's element."""
    return element.evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")


def _shot_to(page, bottom: float) -> bytes:
    """The page from the top down to `bottom`. Streamlit scrolls inside its own container, so a
    full-page screenshot is only the viewport: the viewport is made tall enough instead."""
    return page.screenshot(clip={"x": 0, "y": 0, "width": page.viewport_size["width"],
                                 "height": min(bottom, page.viewport_size["height"])})


def save_png(png: bytes, path: Path, width: int, max_kb: int) -> int:
    """Downscales to `width` px, then falls back to a 256-colour palette if still over max_kb."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    img.save(path, optimize=True)
    if path.stat().st_size > max_kb * 1024:
        img.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    return path.stat().st_size


def diagnose(page, url: str) -> bytes:
    examples = paths.example_files()
    normal = next(p for p in examples if (paths.DATA_DIR / "test/NORMAL" / p.name).is_file())
    pneumonia = next(p for p in examples if (paths.DATA_DIR / "test/PNEUMONIA" / p.name).is_file())
    page.set_viewport_size(SCREEN)
    page.goto(url)
    page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW)
    page.set_input_files(".st-key-uploads input[type=file]", [str(normal), str(pneumonia)])
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=SLOW)
    _wait_idle(page)
    page.keyboard.press("n")  # the next case, the PNEUMONIA film: its heatmap is drawn in colour
    page.locator('[data-testid="stText"]', has_text=pneumonia.name).first.wait_for(timeout=SLOW)
    _wait_idle(page)
    page.locator(".js-plotly-plot image").first.wait_for(state="attached", timeout=SLOW)  # the film in the viewer
    _no_exception(page)
    page.wait_for_timeout(1500)  # plotly and the progress bar settle
    return page.screenshot()  # the screen as the reader sees it, unscrolled


def evaluation(page, viewport: int) -> bytes:
    page.set_viewport_size({"width": viewport, "height": 3200})
    page.locator('[data-testid="stSidebarNav"] a[href$="/evaluation"]').click()
    page.wait_for_url("**/evaluation")
    page.locator("h1", has_text="Evaluation").first.wait_for(timeout=SLOW)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=SLOW)
    _wait_idle(page)
    _no_exception(page)
    page.wait_for_timeout(2000)  # plotly finishes drawing
    # down to the caption under the ROC and PR curves: a fixed margin below the plots would cut
    # through the first line of the calibration text beside the next figure, which starts 1rem below
    caption = page.locator('[data-testid="stCaptionContainer"]', has_text="Cross: the threshold").first
    return _shot_to(page, _bottom(caption) + 6)  # within the 1rem gap before the next row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    ap.add_argument("--viewport", type=int, default=1400, help="browser width in px for the Evaluation page")
    ap.add_argument("--width", type=int, default=1200, help="width of the saved PNGs in px")
    ap.add_argument("--max-kb", type=int, default=400)
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.mkdtemp(prefix="screenshots-")) / "streamlit.log"
    try:
        with local_server(log, flags=("--client.toolbarMode", "minimal")) as server, sync_playwright() as p:
            url = server.url
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": args.viewport, "height": 3200})
                shots = {"diagnose": diagnose(page, url), "evaluation": evaluation(page, args.viewport)}
            finally:
                browser.close()
    except Exception:
        print(f"server log: {log}", file=sys.stderr)
        raise
    for name, png in shots.items():
        path = args.out / f"{name}.png"
        size = save_png(png, path, args.width, args.max_kb)
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
