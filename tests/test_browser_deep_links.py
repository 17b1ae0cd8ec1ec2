"""Deep links on a cold server, in Debian's Chromium: each test starts a server of its own, so the
link is that process's first visit and Streamlit runs the linked file in `pages/` alone, without
`streamlit_app.py`, until the page's guard (`access.page_guard`) runs the entrypoint in its place.

With login (`gated_app.py` against a real OpenID Connect provider on loopback, `oidc-provider-mock`,
as in tests/test_browser_login.py, with an account of this module's own): an anonymous visitor's link to every page shows only the login,
and a reader's link to the PACS page (the login made on another server with the same secrets, its
cookie carried over) shows no PACS. Without login (the loopback desk): a link opens its page.
A missing browser is a failure with instructions, never a skip (see tests/test_browser.py)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from harness.local_server import CHROMIUM, PLAIN, free_port, local_server
from harness.oidc_login import log_in, mock_provider, open_app, write_secrets
from pneumo_core.app.access.login import TITLE

# the mock provider calls Authlib APIs that Authlib has deprecated: warnings about a test tool, not the app
pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")]

REPO = Path(__file__).resolve().parent.parent
GATED = (sys.executable, "-m", "streamlit", "run", "gated_app.py")  # what the launcher serves with login
PAGES = sorted(p.stem for p in (REPO / "pages").glob("*.py"))
URL_PATH = {"diagnose": ""}  # the default page's address; the others are their file names
SLOW_S = 240  # a shared 2-core machine can be slow
READER = "deep-link-reader@example.org"  # this module's own: the test session shares one audit trail
PACS_TITLE, DIAGNOSE_TITLE = "Studies from the PACS", "Pneumonia on a chest radiograph"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get update && apt-get install -y chromium` "
                    "(`make test` does this); Playwright's own browser download is not used here.")
    with mock_provider({READER: {"email": READER, "roles": ["reader"]}}) as url:
        yield url


@pytest.fixture(scope="module")
def login_secrets(provider, tmp_path_factory) -> tuple[Path, int]:
    """One secrets file (one cookie secret) for every server here, and the port its redirect names."""
    port = free_port()
    path = tmp_path_factory.mktemp("deep-links") / "secrets.toml"
    write_secrets(path, f"http://127.0.0.1:{port}/oauth2callback", provider)
    return path, port


@contextmanager
def _cold(tmp_path: Path, command=GATED, secrets: Path | None = None, port: int | None = None) -> Iterator[str]:
    """A server that no browser has visited yet; its URL."""
    flags = ["--secrets.files", str(secrets)] if secrets else []
    with local_server(tmp_path / f"streamlit-{port or 'any'}.log", command, flags=flags, timeout_s=SLOW_S,
                      port=port) as running:
        yield running.url


def _titles(page) -> list[str]:
    return page.locator("h1").all_inner_texts()


def _buttons(page) -> list[str]:
    return [b.strip() for b in page.locator("button").all_inner_texts() if b.strip()]


@pytest.mark.parametrize("name", PAGES)
def test_an_anonymous_deep_link_to_any_page_on_a_cold_server_shows_only_the_login(name, login_secrets, visitor,
                                                                                   tmp_path):
    secrets_file, _ = login_secrets
    with _cold(tmp_path, secrets=secrets_file) as url:
        open_app(visitor, f"{url}/{URL_PATH.get(name, name)}", SLOW_S)
        visitor.get_by_role("button", name="Log in").wait_for(timeout=SLOW_S * 1000)
        assert _titles(visitor) == [TITLE]
        assert _buttons(visitor) == ["Log in"]
        assert visitor.locator('[data-testid="stSidebarNav"]').count() == 0
        assert visitor.locator('input[type="file"]').count() == 0


def test_a_readers_deep_link_to_the_pacs_page_on_a_cold_server_shows_no_pacs(login_secrets, provider, visitor,
                                                                             tmp_path):
    secrets_file, port = login_secrets
    with _cold(tmp_path, secrets=secrets_file, port=port) as url:  # the login, on a server that is then stopped
        log_in(visitor, url, provider, READER, SLOW_S)
    with _cold(tmp_path, secrets=secrets_file, port=port) as url:  # the same login's cookie, a fresh process
        open_app(visitor, f"{url}/pacs", SLOW_S)
        visitor.get_by_role("heading", name=DIAGNOSE_TITLE).wait_for(timeout=SLOW_S * 1000)  # the default page
        assert visitor.get_by_text(f"Signed in as {READER}").count() == 1
        assert PACS_TITLE not in _titles(visitor)
        assert visitor.get_by_text("PACS server").count() == 0
        nav = visitor.locator('[data-testid="stSidebarNav"] a').evaluate_all(
            "links => links.map(a => new URL(a.href).pathname)")
        assert "/evaluation" in nav and "/pacs" not in nav


@pytest.mark.parametrize("name, title", [("evaluation", "Evaluation on the official test split"),
                                         ("calibrate_site", "Calibrate for your site")])
def test_without_login_a_deep_link_on_a_cold_server_opens_its_page(name, title, visitor, tmp_path):
    with _cold(tmp_path, PLAIN) as url:
        open_app(visitor, f"{url}/{name}", SLOW_S)
        visitor.get_by_role("heading", name=title).wait_for(timeout=SLOW_S * 1000)
        assert _titles(visitor)[0] == title
        assert visitor.get_by_text("Saliency method").count() >= 1  # the entrypoint's sidebar, drawn after the page
