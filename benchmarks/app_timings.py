"""How long a reader waits, from a cold server, in a real browser.

    .venv/bin/python benchmarks/app_timings.py [--launchers serve plain] [--runs 4]

Each run starts a fresh server process on a free localhost port, either through the
product's launcher (`serve`: `python -m pneumo_core.app.serve`, which warms the model
before it takes requests) or a plain `streamlit run streamlit_app.py` (`plain`), then
drives Debian's Chromium through Playwright (`apt-get install chromium`):

- `server_ready_s`: process start until the health endpoint answers (the launcher's
  warm-up is in here, before any visitor);
- `page_to_sidebar_s`: `page.goto` until the sidebar is complete (its last control, the
  heatmap opacity slider, is drawn);
- `upload_to_result_s`: the upload of one bundled example until its probability shows;
- `upload_to_viewer_s`: until the viewer's film with its heatmap is drawn;
- `external_hosts`: every host other than the app's own that the browser asked for.

Targets (issue #13): <= 3 s for the sidebar and for the first result, and no external
host. Nothing is asserted: figures are printed and written, with the machine's CPU count
and load, to benchmarks/results/app_timings.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.local_server import CHROMIUM, CHROMIUM_ARGS, LAUNCHER, PLAIN, local_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "app_timings.json"
TIMEOUT_MS = 300_000
LAUNCHERS = {"serve": LAUNCHER, "plain": PLAIN}


def _example() -> Path:
    return sorted(p for p in (ROOT / "examples").glob("*.jpeg") if p.name.startswith("person"))[0]


def one_run(browser, launcher: str) -> dict:
    log = Path(tempfile.mkdtemp(prefix="app-timings-")) / "streamlit.log"
    with local_server(log, LAUNCHERS[launcher], timeout_s=TIMEOUT_MS / 1000) as server:
        url, ready = server.url, server.ready_s
        own = urllib.parse.urlsplit(url).netloc
        hosts: set[str] = set()
        page = browser.new_page(viewport={"width": 1500, "height": 1600})

        def record(request) -> None:
            parts = urllib.parse.urlsplit(request.url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != own:
                hosts.add(parts.netloc)
        page.on("request", record)
        t0 = time.monotonic()
        page.goto(url)
        page.locator('[data-testid="stSidebar"] .st-key-opacity').wait_for(timeout=TIMEOUT_MS)
        sidebar = time.monotonic() - t0
        page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=TIMEOUT_MS)
        t1 = time.monotonic()
        page.set_input_files(".st-key-uploads input[type=file]", [str(_example())])
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=TIMEOUT_MS)
        result = time.monotonic() - t1
        page.locator(".js-plotly-plot .layer-above image, .js-plotly-plot image").first.wait_for(
            state="attached", timeout=TIMEOUT_MS)
        viewer = time.monotonic() - t1
        page.close()
    return {"launcher": launcher, "server_ready_s": round(ready, 2), "page_to_sidebar_s": round(sidebar, 2),
            "upload_to_result_s": round(result, 2), "upload_to_viewer_s": round(viewer, 2),
            "external_hosts": sorted(hosts)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--launchers", nargs="+", choices=list(LAUNCHERS), default=list(LAUNCHERS))
    ap.add_argument("--runs", type=int, default=4, help="cold servers per launcher")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright
    load_before = os.getloadavg()
    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for launcher in args.launchers:
                for _ in range(args.runs):
                    runs.append(one_run(browser, launcher))
                    print(json.dumps(runs[-1]), flush=True)
        finally:
            browser.close()
    summary = {}
    for launcher in args.launchers:
        mine = [r for r in runs if r["launcher"] == launcher]
        summary[launcher] = {k: max(r[k] for r in mine) for k in
                             ("server_ready_s", "page_to_sidebar_s", "upload_to_result_s", "upload_to_viewer_s")}
        summary[launcher]["external_hosts"] = sorted({h for r in mine for h in r["external_hosts"]})
    report = {"what": "cold server per run; worst run per launcher in `summary`", "targets_s": {
                  "page_to_sidebar_s": 3.0, "upload_to_result_s": 3.0},
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu_count": os.cpu_count(),
              "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
              "example": _example().name, "summary": summary, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for launcher, s in summary.items():
        print(f"{launcher}: server ready {s['server_ready_s']} s, sidebar {s['page_to_sidebar_s']} s after page load, "
              f"first result {s['upload_to_result_s']} s after upload (viewer {s['upload_to_viewer_s']} s), "
              f"external hosts: {s['external_hosts'] or 'none'}")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
