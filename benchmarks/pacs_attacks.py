"""The PACS side of issue #18's attacks, run against a real Orthanc: what happens to each and
how long it takes to say so.

A real Orthanc (Debian's `orthanc` + `orthanc-dicomweb`, `make orthanc`) runs on a loopback
port with HTTP basic auth, as in tests/pacs, holding two one-film CR studies made from the
first official test images. Each attack goes through the library the page and the command line
use (`pacs.client`, `pacs.store`). For each it records the outcome, the requests that left the
client (a spy on the `requests` session), the STOW-RS requests among them, the change in the
study's instance count, whether the refusal line repeats the hostile value, and the median time
over `--repeats` runs (the first run of each is not timed). A hostile PACS (one that lists an
instance whose UID climbs out of the URL path) is a small stub server, since Orthanc will not
hold such a UID.

    .venv/bin/python benchmarks/pacs_attacks.py [--repeats 5]

A second part (issue #27) turns a hostile PACS stub (`harness.hostile_pacs`) on the command
line (`predict --dicomweb`) and on the app's PACS page function (`pacs_page.score_study`, what
the app server runs for a study), each in its own process: an instance listing that never ends,
a 330 MB search answer, a WADO-RS redirect to another port over plain http, a server sending
one byte a second, and a `Retry-After` of an hour. For each: the line said, the exit code, the
seconds, the command's peak memory (ru_maxrss) or the page function's rise over its process
after imports, and whether the redirect's target was reached. A run that is still going after
`--limit-s` seconds or past `--limit-mb` is killed and recorded so. `--code DIR` runs the same
attacks against another checkout's `pneumo_core` (the code before a change: `git archive REV
pneumo_core | tar -x -C DIR`, with `weights` linked in), recorded under `--label`.

    .venv/bin/python benchmarks/pacs_attacks.py --part hostile --label after
    .venv/bin/python benchmarks/pacs_attacks.py --part hostile --label before --code /tmp/before

Results in `results/pacs_attacks.json` (each part updates its own keys), and a table on stdout
for docs/security.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from harness.hostile_pacs import STUDY_UID, HostilePacs, hostile_pacs, run_measured  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "pacs_attacks.json"
PDF = b"%PDF-1.4\n%minimal\n"


class Spy:
    """The requests a session sends (or a stub server receives), as (method, url)."""

    def __init__(self, session=None) -> None:
        self.sent: list[tuple[str, str]] = []
        if session is None:
            return
        send = session.send

        def spy(request, **kwargs):
            self.sent.append((request.method, request.url))
            return send(request, **kwargs)
        session.send = spy


def _attempt(fn: Callable[[], str | tuple[str, str]]) -> tuple[str, str]:
    """(outcome, line): what `fn` returned, or "refused"/"error" with the exception's line."""
    from pneumo_core.pacs.errors import PacsError, PacsRefused
    try:
        out = fn()
        return out if isinstance(out, tuple) else (out, "")
    except PacsRefused as exc:
        return "refused", str(exc)
    except PacsError as exc:
        return "error", str(exc)


def _measure(name: str, now: str, fn: Callable[[], str], spy: Spy | None, count: Callable[[], int] | None,
             hostile: str | None, repeats: int) -> dict:
    """Runs `fn` once counted (requests, STOWs, instances), then `repeats` times timed."""
    before = count() if count else None
    if spy:
        spy.sent.clear()
    t0 = time.perf_counter()
    outcome, line = _attempt(fn)
    first_ms = (time.perf_counter() - t0) * 1000
    sent = list(spy.sent) if spy else []
    after = count() if count else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _attempt(fn)
        times.append((time.perf_counter() - t0) * 1000)
    return {"attack": name, "before": now, "outcome": outcome, "line": line, "requests_sent": len(sent),
            "stow_requests": sum(m == "POST" for m, _ in sent), "wado_requests": sum("/series/" in u for _, u in sent),
            "instances_added": None if before is None else after - before,
            "echoes_hostile_value": bool(hostile and hostile in line), "first_ms": first_ms,
            "median_ms_of_repeats": statistics.median(times)}


def _attacks(client, orthanc_url: str, loaded: dict, hostile_url: str) -> list[tuple]:
    """(name, what happened before, fn, what counts its requests (True: the client's spy), the
    instance count to watch, the hostile value) for each attack."""
    from pneumo_core.pacs.client import InstanceRef, PacsClient
    from pneumo_core.pacs.config import auth_from
    from pneumo_core.pacs.store import ReportContent, store_report

    a, b = loaded["a"], loaded["b"]
    count_a = lambda: len(client.instances(a["study"]))  # noqa: E731
    content = ReportContent("PNEUMONIA", 0.8, 0.5, "balanced", impression="benchmark")

    def search(**kw) -> Callable[[], str]:
        return lambda: f"listed: {len(client.search_studies(**kw))} study(ies)"

    def store(typed: str) -> Callable[[], tuple[str, str]]:
        def run() -> tuple[str, str]:
            done = store_report(client, a["study"], a["sop"], typed, lambda: PDF, "bench", content)
            return done.outcome, done.message
        return run

    def retrieve(uid: str) -> Callable[[], str]:
        return lambda: str(len(client.retrieve(InstanceRef(a["study"], a["series"], uid))))

    def hostile_listing() -> str:
        with PacsClient(hostile_url, allow_http=True) as pacs:
            return f"{len(pacs.instances('1.2.3'))} instances listed"

    def http(url: str, allow: bool) -> Callable[[], str]:
        return lambda: (PacsClient(url, auth_from(user="scorer", password="s3cret-Pa55word"), allow_http=allow)
                        .check() or "connected")
    dot = "1.2.3/../../../system"
    return [
        ("search, blank accession (list every study)", "every CR/DX study listed", search(), True, None, None),
        ("search, accession *", "every CR/DX study listed", search(accession="*"), True, None, None),
        ("search, accession ACC-* / ACC-100?", "matching studies listed", search(accession="ACC-*"), True, None, "ACC-*"),
        ("search, a year of study dates", "every study of the year listed",
         search(date_from="20240101", date_to="20241231"), True, None, None),
        ("search, exact accession (control)", "one study", search(accession=b["accession"]), True, None, None),
        ("store a report, no accession typed", "stored", store(""), True, count_a, None),
        ("store a report under another study's accession", "stored", store(b["accession"]), True, count_a, None),
        ("store the report, study's own accession (1st)", "stored", store(a["accession"]), True, count_a, None),
        ("store the same report again (2nd click)", "stored again (a duplicate each click)", store(a["accession"]),
         True, count_a, None),
        ("WADO with SOP UID '1.2.3/../../../system'", "authenticated GET elsewhere on the PACS host",
         retrieve(dot), True, None, dot),
        ("WADO with a 65-character UID", "request sent", retrieve("1." + "2" * 63), True, None, "1." + "2" * 63),
        ("WADO with UID '1.2.abc'", "request sent", retrieve("1.2.abc"), True, None, "1.2.abc"),
        ("a PACS lists an instance with UID '1.2.3/../../../../system'", "GET sent to the path it names",
         hostile_listing, HostilePacs, None, "system"),
        ("plain http to the PACS, not allowed", "allowed (with credentials: to this machine only)",
         http(orthanc_url, False), None, None, None),
        ("plain http with credentials to another machine, allowed", "refused (already)",
         http("http://pacs.example.org/dicom-web", True), None, None, None),
        ("credentials in the URL", "refused (already)",
         http(orthanc_url.replace("http://", "http://scorer:hunter2@"), True), None, None, "hunter2"),
    ]


def _load(server) -> dict:
    from harness.orthanc_server import dicom_from_image, new_study
    from pydicom.uid import generate_uid
    import pydicom
    import io
    images = sorted((REPO / "data" / "test" / "NORMAL").glob("*.jpeg"))[:2]
    out = {}
    for key, acc, day, image in (("a", "BENCH-A1", date(2024, 2, 1), images[0]),
                                 ("b", "BENCH-B2", date(2024, 2, 9), images[1])):
        study, series = new_study(acc, day), generate_uid()
        data = dicom_from_image(image, study, series, 1)
        server.upload(data)
        sop = str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)
        out[key] = {"study": study.uid, "series": series, "sop": sop, "accession": acc}
    return out


HOSTILE = [  # (mode, the attack in words)
    ("endless", "an instance listing that never ends (every page full)"),
    ("huge", "a 330 MB search answer (no Content-Length)"),
    ("redirect", "WADO-RS answers 302 to http://127.0.0.1:OTHER/"),
    ("trickle", "every answer one byte a second"),
    ("trickle-wado", "a 3-film study whose every WADO-RS answer comes one byte a second"),
    ("retry-after", "503 with Retry-After: 3600"),
]
# The page function, in a process of its own: its memory after imports, then its peak, as JSON.
PAGE_RUN = """
import json, sys
from pneumo_core.app.pacs.pacs_page import score_study
from pneumo_core.pacs.config import ServerConfig
from pneumo_core.pacs.errors import PacsError
def mb(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key)) / 1024
before = mb("VmRSS:")
try:
    done = score_study(ServerConfig("hostile", sys.argv[1], None, True), sys.argv[2], "efficientnet_lite0")
    line = "; ".join(r.error or "scored" for r in done.results)
except PacsError as exc:
    line = "PacsError: " + str(exc)
print(json.dumps({"line": line, "rss_after_imports_mb": before, "peak_mb": mb("VmHWM:")}))
"""


def _said(stdout: str, stderr: str) -> str:
    """The command's last word: its `error:` line, else the last prediction line's error or status."""
    if stderr.strip():
        return stderr.strip().splitlines()[-1][:300]
    lines = stdout.splitlines()
    if not lines:
        return ""
    try:
        rec = json.loads(lines[-1])
        return f"line: {rec.get('error') or rec.get('status')}"[:300]
    except ValueError:
        return lines[-1][:300]


def _hostile_rows(code: Path, limit_s: float, limit_mb: float, modes: list[str]) -> list[dict]:
    """Each hostile mode in `modes` against the command line and the page function of the checkout `code`."""
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("PNEUMO_DICOMWEB_")}
    env.update(PNEUMO_DICOMWEB_ALLOW_HTTP="1", PYTHONPATH=str(code))
    rows = []
    for mode, what in [(m, w) for m, w in HOSTILE if m in modes]:
        for door, cmd in (("command line", ["-m", "pneumo_core", "predict", "--quiet", "--dicomweb"]),
                          ("app page function", ["-c", PAGE_RUN])):
            with hostile_pacs(mode) as url:
                args = [sys.executable, *cmd, url, *(["--study", STUDY_UID] if door == "command line" else [STUDY_UID])]
                run = run_measured(args, env, code, limit_s, limit_mb)
                hits = len(HostilePacs.target_hits)
            row = {"attack": what, "mode": mode, "door": door, "exit": run.returncode, "seconds": round(run.seconds, 1),
                   "peak_mb": round(run.peak_mb), "killed": run.killed, "redirect_target_hits": hits}
            if door == "command line":
                row.update(stdout_lines=len(run.stdout.splitlines()), stderr_lines=len(run.stderr.splitlines()),
                           line=_said(run.stdout, run.stderr))
            else:
                page = json.loads(run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else {}
                row.update(line=page.get("line", run.stderr.strip()[-300:])[:300],
                           rise_mb=round(page["peak_mb"] - page["rss_after_imports_mb"]) if page else None)
            print(f"{mode:12s} {door:18s} {row['seconds']:6.1f} s {row['peak_mb']:6d} MB "
                  f"{row['killed'] or ''} {row['line'][:110]}", file=sys.stderr)
            rows.append(row)
    return rows


def _print_hostile(record: dict) -> None:
    print("| attack | door | before | now | seconds (before → now) | MB: command peak, page rise (before → now) |")
    print("|---|---|---|---|---|---|")
    before = {(r["mode"], r["door"]): r for r in record.get("hostile", {}).get("before", [])}
    for r in record.get("hostile", {}).get("after", []):
        b = before.get((r["mode"], r["door"]), {})
        mem = "rise_mb" if r["door"] != "command line" else "peak_mb"

        def said(x: dict) -> str:
            if not x:
                return "?"
            if x["killed"]:
                return f"killed at the {x['killed']} limit, nothing said"
            return x["line"] + (f" (the redirect's target reached {x['redirect_target_hits']}x)"
                                if x["redirect_target_hits"] else "")
        def mb(x: dict) -> str:
            if not x:
                return "?"
            if x["killed"] or x.get(mem) is None:  # no rise measured: the process's peak when it was killed
                return f"{x['peak_mb']} peak when killed"
            return str(x[mem])
        bm = mb(b)
        print(f"| {r['attack']} | {r['door']} | {said(b)} | {said(r)} | {b.get('seconds', '?')} → {r['seconds']} | "
              f"{bm} → {mb(r)} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--part", choices=("all", "orthanc", "hostile"), default="all")
    p.add_argument("--code", type=Path, default=REPO, help="the checkout whose pneumo_core the hostile part runs")
    p.add_argument("--label", default="after", help="the hostile part's key in the JSON (before, after)")
    p.add_argument("--limit-s", type=float, default=75.0)
    p.add_argument("--limit-mb", type=float, default=3500.0)
    p.add_argument("--modes", nargs="+", default=[m for m, _ in HOSTILE], choices=[m for m, _ in HOSTILE],
                   help="the hostile attacks to run (their rows replace those recorded under --label)")
    p.add_argument("--table-only", action="store_true", help="print the hostile table from the JSON; run nothing")
    args = p.parse_args()
    record = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.table_only:
        return _print_hostile(record)
    if args.part in ("all", "hostile"):
        rows = _hostile_rows(args.code.resolve(), args.limit_s, args.limit_mb, args.modes)
        kept = [r for r in record.get("hostile", {}).get(args.label, []) if r["mode"] not in args.modes]
        order = [m for m, _ in HOSTILE]
        record.setdefault("hostile", {})[args.label] = sorted(kept + rows, key=lambda r: order.index(r["mode"]))
        record["hostile_limits"] = {"limit_s": args.limit_s, "limit_mb": args.limit_mb}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        _print_hostile(record)
    if args.part in ("all", "orthanc"):
        _orthanc_part(args, record)


def _orthanc_part(args: argparse.Namespace, record: dict) -> None:
    import requests
    from harness.orthanc_server import PASSWORD, USER, start_orthanc

    from pneumo_core.pacs.client import PacsClient
    from pneumo_core.pacs.config import auth_from

    with hostile_pacs() as stub_url, tempfile.TemporaryDirectory(prefix="pacs_attacks_") as tmp:
        server = start_orthanc(Path(tmp) / "orthanc")
        try:
            version = requests.get(f"{server.base}/system", auth=server.auth, timeout=5).json()["Version"]
            loaded = _load(server)
            with PacsClient(server.url, auth_from(user=USER, password=PASSWORD), allow_http=True) as client:
                spy = Spy(client.session)
                rows = []
                for name, now, fn, watch, count, hostile in _attacks(client, server.url, loaded, stub_url):
                    watch = spy if watch is True else watch
                    rows.append(_measure(name, now, fn, watch, count, hostile, args.repeats))
        finally:
            server.stop()
    record.update({"orthanc": version, "transport": "HTTP on loopback (allowed for this test server), basic auth",
                   "repeats": args.repeats, "attacks": rows})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print("| attack | before | now | requests sent (STOW, WADO) | instances added | echoes value | ms (run, median) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['attack']} | {r['before']} | {r['line'] or r['outcome']} | "
              f"{r['requests_sent']} ({r['stow_requests']}, {r['wado_requests']}) | "
              f"{'' if r['instances_added'] is None else r['instances_added']} | "
              f"{'yes' if r['echoes_hostile_value'] else 'no'} | {r['first_ms']:.2f}, "
              f"{r['median_ms_of_repeats']:.2f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
