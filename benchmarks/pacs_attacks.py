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

Results in `results/pacs_attacks.json`, and a table on stdout for docs/security.md.
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
from harness.hostile_pacs import HostilePacs, hostile_pacs  # noqa: E402

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()

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
    record = {"orthanc": version, "transport": "HTTP on loopback (allowed for this test server), basic auth",
              "repeats": args.repeats, "attacks": rows}
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
