import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "data" / "test"
# The tests read this checkout's files: it is the product's home (pneumo_core/io/home.py), for this
# process and every command and server the tests start, whatever is installed in the environment.
os.environ["PNEUMO_HOME"] = str(REPO)


def run_cli(*args: str):
    """`python -m pneumo_core ARGS` in the repository, as a user runs it."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "pneumo_core", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="session")
def test_images() -> dict[str, list[Path]]:
    """The official test split shipped in the repo, by class."""
    out = {c: sorted((TEST_DATA / c).glob("*.jpeg")) for c in ("NORMAL", "PNEUMONIA")}
    assert all(out.values()), f"official test split missing under {TEST_DATA}"
    return out


@pytest.fixture(scope="session")
def default_predictor():
    from pneumo_core.inference.predictor import Predictor
    return Predictor()


@pytest.fixture(scope="module")
def one_torch_thread():
    """The CPUs are shared: two intra-op threads spin against other processes and make
    batch-of-one calls 10-50x slower and erratic. Restored afterwards."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def audit_trail_in_a_temporary_file(tmp_path_factory):
    """Tests record actions like the app does; they write to a throwaway trail, never the installation's
    (set in the environment, so servers that tests start inherit it)."""
    import os
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    before = os.environ.get("PNEUMO_AUDIT_LOG")
    os.environ["PNEUMO_AUDIT_LOG"] = str(path)
    yield path
    if before is None:
        os.environ.pop("PNEUMO_AUDIT_LOG", None)
    else:
        os.environ["PNEUMO_AUDIT_LOG"] = before


APP_ENTRYPOINT = str(REPO / "streamlit_app.py")
APP_TIMEOUT = 180  # the first run imports torch and loads a model on a shared 2-core machine


def run_app(page: str | None = None, **state):
    """The app as AppTest runs it: session state set, then the page (default: Diagnose) run once."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP_ENTRYPOINT, default_timeout=APP_TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    if page:
        at.switch_page(page)
    return at.run()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright (Playwright's own browser download cannot run offline)."""
    from playwright.sync_api import sync_playwright

    from harness.local_server import CHROMIUM, CHROMIUM_ARGS
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def visitor(browser):
    """A new visitor: a page in a browser context of its own, without the others' cookies."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def results_table(at):
    """The Diagnose page's results table, drawn below the case (whose details are a table too);
    its key changes after each row picked (`case_view.table_key`)."""
    return next(d for d in at.dataframe if str(d.key).startswith("results_table_"))
