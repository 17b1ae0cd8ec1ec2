"""Issue #27's attacks on sessions, anonymous clients and the launcher, run against served apps as an
outsider would (items 4, 5 and 8), with what each outcome cost.

`--part sessions` and `--part anonymous` serve the app with login configured against a real OpenID
Connect provider on loopback (`oidc-provider-mock`, `harness.oidc_login`), driven in Debian's Chromium:

- the product: the launcher (`python -m pneumo_core.app.serve`, which serves `gated_app.py` when login
  is configured) behind a TLS proxy (`harness.tls_proxy`: the browser on https, the app on plain http
  behind it, as docs/serving.md deploys it);
- for the anonymous attacks' "before", a plain `streamlit run streamlit_app.py` with the same login:
  no gate, which is what the launcher served before `gated_app.py` and what a plain run still serves.

Each server runs under `harness/cache_probe.py` (the same server, in the same process, plus a thread
that sees Streamlit's shared caches emptied), with its own audit trail in a temporary folder.

sessions (item 4), on the product: a reporter's cookie copied before logout and replayed in a fresh
browser at /pacs; the same login's cookie re-signed as the server signs it, as if issued 11.9 h and
12.1 h ago (the shift is 12 h); an account whose roles change at the provider, before and after a new
login; the cookie's lifetime and `Secure` attribute as the browser holds it over https.

anonymous (item 5), on both servers: 20 uploads of 50 MB to Streamlit's upload endpoint from a client
holding only a live websocket session (answers, seconds, the server's resident memory before and
after); that client's websocket `clear_cache` (were the shared caches emptied?), and, as a control that
the probe sees a clear that is let through, a signed-in reader's; a reader's results CSV under /media
fetched by a stranger and by the reader.

launcher (item 8): a stand-in installation serving a team (0.0.0.0, a named host) with and without
`[auth]`, its launcher started from another directory whose own `.streamlit/` says loopback
(`harness.launcher_probe`: the server reports the settings it runs with). `--code DIR --label before`
runs it against another checkout's `pneumo_core` (`git archive REV pneumo_core | tar -x -C DIR`).

trail (issue #27's "an unwritable trail refuses to start"): the audit trail set under a file, where
its folder should be; the launcher (a stand-in loopback installation, started from a bare directory)
and the entrypoint as a plain `streamlit run` runs it (AppTest, in `--code`'s checkout: a whole one,
`git archive REV | tar -x -C DIR`): what each shows or says.

    .venv/bin/python benchmarks/session_attacks.py                   # every part, about 10 minutes
    .venv/bin/python benchmarks/session_attacks.py --part launcher --label "before (cf4ddb3^)" --code /tmp/b1
    .venv/bin/python benchmarks/session_attacks.py --part trail --label "before (5c35e58)" --code /tmp/b2
    .venv/bin/python benchmarks/session_attacks.py --table-only

Results in `results/session_attacks.json` (each part updates its own keys); see docs/security.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness import oidc_login as oidc  # noqa: E402
from harness.cache_probe import PREFIX as PROBE  # noqa: E402
from harness.launcher_probe import serve_from  # noqa: E402
from harness.local_server import CHROMIUM, CHROMIUM_ARGS, free_port, local_server  # noqa: E402
from harness.tls_proxy import tls_proxy  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "session_attacks.json"
PROBED = {"launcher": (sys.executable, str(REPO / "harness" / "cache_probe.py"), "serve"),
          "plain": (sys.executable, str(REPO / "harness" / "cache_probe.py"), "plain")}
SLOW_S = 300.0  # a shared 2-core machine can be slow
PACS_TITLE = "Studies from the PACS"
READER, LEAVER, SHIFT, ROLES = ("bench-reader@example.org", "bench-leaver@example.org", "bench-shift@example.org",
                                "bench-roles@example.org")
USERS = {READER: {"email": READER, "roles": ["reader"]}, LEAVER: {"email": LEAVER, "roles": ["reporter"]},
         SHIFT: {"email": SHIFT, "roles": ["reporter"]}, ROLES: {"email": ROLES, "roles": ["reporter"]}}
UPLOAD_MB, UPLOADS = 50, 20


@contextmanager
def _served(kind: str, provider: str, folder: Path, tls: bool) -> Iterator[dict]:
    """A server with login (`kind`: launcher or plain), behind the TLS proxy when `tls`: its front URL (the
    browser's), its own URL, its log, its process and its cookie secret."""
    port = free_port()
    with tls_proxy(port) if tls else _nothing() as proxy_port:
        front = f"https://127.0.0.1:{proxy_port}" if tls else f"http://127.0.0.1:{port}"
        secrets = folder / f"{kind}-secrets.toml"
        cookie_secret = oidc.write_secrets(secrets, f"{front}/oauth2callback", provider)
        log = folder / f"{kind}.log"
        with local_server(log, PROBED[kind], flags=["--secrets.files", str(secrets)], timeout_s=600, port=port) as s:
            yield {"front": front, "url": s.url, "log": log, "pid": oidc.server_pid(s.url), "secret": cookie_secret,
                   "ready_s": round(s.ready_s, 1)}


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _context(browser):
    return browser.new_context(viewport={"width": 1400, "height": 1000}, ignore_https_errors=True)


def _at_pacs(page, front: str, provider: str) -> tuple[str, float]:
    """Opens /pacs: "admitted" when the PACS page shows, "refused" when the app sends the browser through
    logout (to the provider's end-session page); and the seconds it took to tell."""
    t0 = time.monotonic()
    page.goto(f"{front}/pacs")
    while time.monotonic() - t0 < SLOW_S:
        if page.url.startswith(f"{provider}/oauth2/end_session"):
            return "refused", round(time.monotonic() - t0, 1)
        if page.get_by_role("heading", name=PACS_TITLE).count():
            return "admitted", round(time.monotonic() - t0, 1)
        page.wait_for_timeout(100)
    return "neither within the limit", round(time.monotonic() - t0, 1)


def _denied(trail: Path, user: str) -> list[dict]:
    from pneumo_core.audit import AuditLog
    return [r["ids"] for r in AuditLog(trail).records() if r["user"] == user and r["action"] == "access_denied"]


def _replay(browser, server: dict, provider: str, trail: Path) -> dict:
    visitor = _context(browser)
    page = visitor.new_page()
    oidc.log_in(page, server["front"], provider, LEAVER, SLOW_S)
    before_logout, _ = _at_pacs(page, server["front"], provider)
    copied = visitor.cookies()
    oidc.log_out(page, provider, SLOW_S)
    visitor.close()
    thief = _context(browser)
    thief.add_cookies(copied)
    outcome, seconds = _at_pacs(thief.new_page(), server["front"], provider)
    kept = any(c["name"].startswith(oidc.USER_COOKIE) for c in thief.cookies())
    thief.close()
    return {"before_logout": before_logout, "replayed": outcome, "seconds": seconds,
            "copy_still_in_browser": kept, "access_denied": _denied(trail, LEAVER)}


def _shift(browser, server: dict, provider: str, trail: Path) -> dict:
    visitor = _context(browser)
    page = visitor.new_page()
    oidc.log_in(page, server["front"], provider, SHIFT, SLOW_S)
    cookies = visitor.cookies()
    visitor.close()
    claims = oidc.identity_claims(cookies, server["secret"])
    held = next(c for c in cookies if c["name"] == oidc.USER_COOKIE)
    out = {"cookie_lifetime_days": round((held["expires"] - time.time()) / 86400, 1), "cookie_secure": held["secure"],
           "cookie_http_only": held["httpOnly"]}
    for hours in (11.9, 12.1):
        shifted = dict(claims, iat=int(claims["iat"] - hours * 3600), exp=int(claims.get("exp", 0) - hours * 3600),
                       nonce=f"bench-{hours}")  # another login of the same account, made `hours` ago
        context = _context(browser)
        context.add_cookies([{"name": oidc.USER_COOKIE, "value": oidc.signed_identity(shifted, server["secret"]),
                              "url": server["front"]}])
        out[f"login_{hours}_h_old"], _ = _at_pacs(context.new_page(), server["front"], provider)
        context.close()
    out["access_denied"] = _denied(trail, SHIFT)
    return out


def _roles(browser, server: dict, provider: str) -> dict:
    context = _context(browser)
    page = context.new_page()
    oidc.log_in(page, server["front"], provider, ROLES, SLOW_S)
    first, _ = _at_pacs(page, server["front"], provider)
    oidc.set_claims(provider, ROLES, {"email": ROLES, "roles": ["reader"]})  # the directory takes the role away
    same_login, _ = _at_pacs(page, server["front"], provider)
    oidc.log_out(page, provider, SLOW_S)
    oidc.log_in(page, server["front"], provider, ROLES, SLOW_S)
    page.goto(f"{server['front']}/pacs")
    page.get_by_text(f"Signed in as {ROLES}").first.wait_for(timeout=SLOW_S * 1000)
    again = "admitted" if page.get_by_role("heading", name=PACS_TITLE).count() else "not offered (Diagnose shown)"
    context.close()
    return {"reporter_at_login": first, "after_the_role_is_removed_same_login": same_login, "after_a_new_login": again}


def part_sessions(browser, server: dict, provider: str, trail: Path) -> dict:
    return {"replayed_cookie": _replay(browser, server, provider, trail),
            "shift": _shift(browser, server, provider, trail), "roles": _roles(browser, server, provider)}


def _probe_clears(log: Path) -> int:
    return sum(line.startswith(f"{PROBE} cleared") for line in log.read_text(errors="replace").splitlines())


def _clears(server: dict, client) -> bool:
    """Whether `client`'s websocket `clear_cache` emptied the server's shared caches (as its probe saw)."""
    cleared = _probe_clears(server["log"])
    client.websocket.send(oidc.clear_cache_message())
    time.sleep(3)  # the probe looks every 0.2 s
    return _probe_clears(server["log"]) > cleared


def _anonymous_client(server: dict) -> dict:
    with oidc.client_session(server["url"]) as anonymous:
        caches_cleared = _clears(server, anonymous)
        before = oidc.rss_mb(server["pid"])
        t0 = time.monotonic()
        answers = [oidc.put_upload(server["url"], f"/_stcore/upload_file/{anonymous.session_id}/{i}",
                                   (UPLOAD_MB << 20) - 4096, anonymous.cookie, anonymous.xsrf) for i in range(UPLOADS)]
        took = time.monotonic() - t0
        after = oidc.rss_mb(server["pid"])
    return {"clear_cache_emptied_the_shared_caches": caches_cleared,
            "uploads": {"answers": {str(a): answers.count(a) for a in set(answers)}, "seconds": round(took, 1),
                        "server_rss_mb_before": round(before), "server_rss_mb_after": round(after),
                        "rise_mb": round(after - before)}}


def _media(browser, server: dict, provider: str) -> dict:
    film = sorted(p for p in (REPO / "examples").glob("*.jpeg") if p.name.startswith("person"))[0]
    reader = _context(browser)
    page = reader.new_page()
    oidc.log_in(page, server["front"], provider, READER, SLOW_S)
    page.wait_for_selector(".st-key-uploads input[type=file]", state="attached", timeout=SLOW_S * 1000)
    page.set_input_files(".st-key-uploads input[type=file]", [str(film)])
    button = page.get_by_role("button", name="Download the table (CSV)")
    button.wait_for(timeout=SLOW_S * 1000)
    with page.expect_download(timeout=SLOW_S * 1000) as download:
        button.click()
    media = download.value.url
    own = reader.request.get(media).status
    with oidc.client_session(server["url"], {c["name"]: c["value"] for c in reader.cookies()}) as signed_in:
        control = _clears(server, signed_in)  # the probe sees a clear that is let through
    reader.close()
    stranger = _context(browser)
    answer = stranger.request.get(media)
    out = {"reader": own, "stranger": answer.status, "stranger_got_the_table": "P(pneumonia)" in answer.text(),
           "control_signed_in_reader_clear_cache_emptied_the_caches": control}
    stranger.close()
    return out


def part_anonymous(browser, server: dict, provider: str) -> dict:
    return {**_anonymous_client(server), "media_csv": _media(browser, server, provider)}


def part_launcher(code: Path) -> dict:
    """The issue's case: the launcher typed in a directory whose settings say loopback, for an installation
    serving a team; and the same installation with a complete login (the control: it serves as configured)."""
    from harness.launcher_probe import loopback_directory, team_installation
    rows = {}
    for login in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            entrypoint = team_installation(Path(tmp) / "installation", login=login)
            t0 = time.monotonic()
            done, server = serve_from(loopback_directory(Path(tmp) / "elsewhere"), code=code, timeout_s=300,
                                      TEST_ENTRYPOINT=str(entrypoint))
            said = [line.replace(tmp, "TMP") for line in done.stderr.splitlines() if line.startswith("pneumo:")]
            rows["team installation " + ("with [auth]" if login else "without [auth]")] = {
                "served": None if server is None else {k: server[k] for k in ("address", "hosts", "login")},
                "exit": done.returncode if server is None else None, "said": said,
                "seconds": round(time.monotonic() - t0, 1)}
    return rows


_APP_TEST = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300).run()
print("APP " + json.dumps({"errors": [e.value for e in at.error], "exceptions": [e.value for e in at.exception],
                           "buttons": len(at.button), "titles": [t.value for t in at.title],
                           "sidebar_elements": len(at.sidebar.children)}))
"""


def part_trail(code: Path) -> dict:
    """An audit trail that cannot be written (a file where its folder should be): the launcher (a stand-in
    loopback installation, started from a bare directory) and the entrypoint under a plain `streamlit run`
    (Streamlit's AppTest, in `code`'s checkout: one run of the Diagnose page, no login)."""
    from harness.launcher_probe import loopback_directory
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a-file").write_text("")
        blocked = {"PNEUMO_AUDIT_LOG": str(Path(tmp) / "a-file" / "audit.jsonl")}
        installation = loopback_directory(Path(tmp) / "installation")
        (installation / "streamlit_app.py").write_text("import streamlit as st\nst.write('app')\n")
        (Path(tmp) / "bare").mkdir()
        t0 = time.monotonic()
        done, server = serve_from(Path(tmp) / "bare", code=code, timeout_s=300, TEST_ENTRYPOINT=str(installation /
                                  "streamlit_app.py"), **blocked)
        launcher = {"served": None if server is None else {k: server[k] for k in ("address", "login")},
                    "exit": done.returncode if server is None else None, "seconds": round(time.monotonic() - t0, 1),
                    "said": [line.replace(tmp, "TMP") for line in done.stderr.splitlines() if "pneumo" in line]}
        t0 = time.monotonic()
        env = {**os.environ, "PYTHONPATH": str(code), **blocked}
        app = subprocess.run([sys.executable, "-c", _APP_TEST, str(code / "streamlit_app.py")], cwd=code, env=env,
                             capture_output=True, text=True, timeout=600)
        shown = [json.loads(line[4:]) for line in app.stdout.splitlines() if line.startswith("APP ")]
        page = {"shown": shown[0] if shown else None, "seconds": round(time.monotonic() - t0, 1),
                "stderr_tail": [] if shown else app.stderr.splitlines()[-3:]}
    return {"launcher": launcher, "streamlit run": page}


def _table(results: dict) -> None:
    for label, rows in results.get("launcher", {}).items():
        for name, row in rows.items():
            outcome = (f"served on {row['served']['address']}, login {'on' if row['served']['login'] else 'off'}"
                       if row["served"] else f"refused, exit {row['exit']}: {' / '.join(row['said'])}")
            print(f"launcher [{label}] {name}: {outcome} ({row['seconds']} s)")
    for label, rows in results.get("trail", {}).items():
        launcher, page = rows["launcher"], rows["streamlit run"]
        print(f"trail [{label}] launcher: " + (f"served on {launcher['served']['address']}" if launcher["served"] else
                                              f"refused, exit {launcher['exit']}: {' / '.join(launcher['said'])}")
              + f" ({launcher['seconds']} s)")
        print(f"trail [{label}] streamlit run: {page['shown']} ({page['seconds']} s)")
    for door, row in results.get("anonymous", {}).items():
        up = row["uploads"]
        print(f"anonymous [{door}] uploads {UPLOADS} x {UPLOAD_MB} MB: {up['answers']} in {up['seconds']} s, server "
              f"{up['server_rss_mb_before']} -> {up['server_rss_mb_after']} MB ({up['rise_mb']:+d}); clear_cache emptied "
              f"the caches: {row['clear_cache_emptied_the_shared_caches']}; media CSV: reader {row['media_csv']['reader']}, "
              f"stranger {row['media_csv']['stranger']} (table served: {row['media_csv']['stranger_got_the_table']}); "
              f"control, a signed-in reader's clear_cache emptied them: "
              f"{row['media_csv']['control_signed_in_reader_clear_cache_emptied_the_caches']}")
    sessions = results.get("sessions")
    if sessions:
        r, sh, ro = sessions["replayed_cookie"], sessions["shift"], sessions["roles"]
        print(f"sessions: replayed cookie {r['replayed']} in {r['seconds']} s (before logout: {r['before_logout']}; "
              f"copy left in the browser: {r['copy_still_in_browser']}; recorded {r['access_denied']})")
        print(f"sessions: login 11.9 h old {sh['login_11.9_h_old']}, 12.1 h old {sh['login_12.1_h_old']} "
              f"(recorded {sh['access_denied']}); cookie lifetime {sh['cookie_lifetime_days']} days, "
              f"Secure {sh['cookie_secure']}, HttpOnly {sh['cookie_http_only']}")
        print(f"sessions: roles: at login {ro['reporter_at_login']}, role removed (same login) "
              f"{ro['after_the_role_is_removed_same_login']}, after a new login {ro['after_a_new_login']}")


def _served_parts(parts: list[str], results: dict) -> None:
    from playwright.sync_api import sync_playwright
    folder = Path(tempfile.mkdtemp(prefix="session-attacks-"))
    trail = folder / "audit.jsonl"
    os.environ["PNEUMO_AUDIT_LOG"] = str(trail)  # the servers' own trail (they inherit it), never the installation's
    with oidc.mock_provider(USERS) as provider, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with _served("launcher", provider, folder, tls=True) as server:
                results["servers"] = {"launcher": {"behind": "TLS proxy", "ready_s": server["ready_s"]}}
                if "sessions" in parts:
                    results["sessions"] = part_sessions(browser, server, provider, trail)
                if "anonymous" in parts:
                    results.setdefault("anonymous", {})["launcher (gated_app.py)"] = part_anonymous(browser, server,
                                                                                                     provider)
            if "anonymous" in parts:
                with _served("plain", provider, folder, tls=False) as server:
                    results["servers"]["plain"] = {"behind": "nothing (http)", "ready_s": server["ready_s"]}
                    results["anonymous"]["plain streamlit run streamlit_app.py"] = part_anonymous(browser, server,
                                                                                                  provider)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", nargs="+", choices=["sessions", "anonymous", "launcher", "trail"],
                    default=["sessions", "anonymous", "launcher", "trail"])
    ap.add_argument("--label", default="after", help="the launcher and trail parts' key (before: with --code)")
    ap.add_argument("--code", type=Path, default=REPO, help="the checkout the launcher and trail parts run")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args(argv)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    if not args.table_only:
        if "launcher" in args.part:
            results.setdefault("launcher", {})[args.label] = part_launcher(args.code.resolve())
        if "trail" in args.part:
            results.setdefault("trail", {})[args.label] = part_trail(args.code.resolve())
        served = [part for part in args.part if part in ("sessions", "anonymous")]
        if served:
            if not Path(CHROMIUM).is_file():
                print(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium", file=sys.stderr)
                return 2
            _served_parts(served, results)
        for part in args.part:  # when each part last ran, and on what
            results.setdefault("runs", {})[part if part in served else f"{part} {args.label}"] = {
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu_count": os.cpu_count(),
                "load": [round(x, 2) for x in os.getloadavg()]}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1) + "\n")
    _table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
