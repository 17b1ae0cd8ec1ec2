"""The DICOM node's throughput: films per second from the first film sent to the last film's
results stored, on this machine's cores.

A real Orthanc (Debian's `orthanc` + `orthanc-dicomweb`) runs on a loopback port with HTTP
basic auth and already holds the films, as it would when it routes new films to the node. The
node (`pneumo_core.node.Node`, what `pneumo listen` runs: default model, input gate, the
`balanced` operating point) runs in this process and stores each film's results (a TID 1500
SR and the heatmap's Secondary Capture, `pacs.results_dicom`) back into Orthanc over DICOMweb.
dcmtk's `storescu` sends the N films in one association. The clock starts when storescu starts
and stops when the node has dealt with every film; the run then counts the SRs and maps Orthanc
holds. The time inside the results builder (heatmap, case report, SR and map) and inside the
sender (STOW-RS) is recorded per film; the rest is receiving, decoding and scoring.

The films are the first N official test images (NORMAL and PNEUMONIA alternately), as 8-bit
MONOCHROME2 DX files at each side length asked for: 224 px as shipped, 2048 px the size of a
real chest film (4 MB). Two films are sent and dealt with first as a warm-up, not timed. The
node's queue holds the whole burst, so the figure is the node's own pace, not its back-pressure.

    .venv/bin/python benchmarks/node_throughput.py [--n 30] [--sides 224 2048]

Results in `results/node_throughput.json`. The machine is shared: the JSON records its load
average before and after, and the CPU count; torch runs with 2 threads.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pneumo_core.cli.threads import use_bounded_spin  # noqa: E402

use_bounded_spin()  # before torch: the product's OpenMP policy (the `pneumo` command's)
OUT = REPO / "benchmarks" / "results" / "node_throughput.json"
SR, SC = "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.7"


def _films(n: int) -> list[Path]:
    normal = sorted((REPO / "data" / "test" / "NORMAL").glob("*.jpeg"))
    pneumonia = sorted((REPO / "data" / "test" / "PNEUMONIA").glob("*.jpeg"))
    return [p for pair in zip(normal, pneumonia) for p in pair][:n]


def _write_films(images: list[Path], side: int, folder: Path, server, accession: str) -> list[Path]:
    """One study of DX films at `side` px, uploaded to Orthanc and written to `folder`."""
    from PIL import Image
    from pydicom.uid import generate_uid

    from harness.orthanc_server import dicom_from_image, new_study
    study, series, paths = new_study(accession, date(2025, 1, 1), "DX"), generate_uid(), []
    for i, image in enumerate(images, 1):
        png = folder / f"{i:04d}.png"
        Image.open(image).convert("L").resize((side, side), Image.BICUBIC).save(png)
        data = dicom_from_image(png, study, series, i)
        server.upload(data)
        paths.append(folder / f"{i:04d}.dcm")
        paths[-1].write_bytes(data)
    return paths


def _send(port: int, files: list[Path]) -> int:
    """storescu's exit status (0: every film answered success)."""
    return subprocess.run(["storescu", "-aet", "MODALITY", "-aec", "PNEUMO", "127.0.0.1", str(port), *map(str, files)],
                          capture_output=True, timeout=3600).returncode


def _results_held(server, study_uid: str) -> dict[str, int]:
    import requests
    r = requests.get(f"{server.url}/studies/{study_uid}/instances", auth=server.auth, timeout=30)
    classes = [i["00080016"]["Value"][0] for i in r.json()] if r.status_code == 200 else []
    return {"sr": classes.count(SR), "map": classes.count(SC)}


class Stopwatch:
    """Seconds spent inside the wrapped calls (the node's results builder and its sender are
    pluggable, so the product is timed without being changed)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


def _run(node, server, files: list[Path], build: Stopwatch, send: Stopwatch) -> dict:
    import pydicom
    study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    before = dict(node.worker.outcomes)
    build.seconds = send.seconds = 0.0
    t0 = time.perf_counter()
    status = _send(node.port, files)
    sent_s = time.perf_counter() - t0
    if not node.wait_idle(3600):
        raise RuntimeError("the node did not finish within an hour")
    seconds = time.perf_counter() - t0
    outcomes = {k: v - before.get(k, 0) for k, v in node.worker.outcomes.items() if v - before.get(k, 0)}
    return {"n": len(files), "seconds": seconds, "films_per_s": len(files) / seconds, "storescu_seconds": sent_s,
            "storescu_status": status,
            "results_built_s_per_film": build.seconds / len(files),
            "results_sent_s_per_film": send.seconds / len(files),
            "outcomes": outcomes, "held_in_orthanc": _results_held(server, study)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--sides", type=int, nargs="+", default=[224, 2048])
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()

    import requests
    import torch

    from harness.orthanc_server import PASSWORD, USER, start_orthanc
    from pneumo_core.inference.predictor import Predictor
    from pneumo_core.node import DicomwebDestination, Node, NodeConfig
    from pneumo_core.node.sender import DicomwebSender
    from pneumo_core.node.worker import product_results
    from pneumo_core.pacs.config import auth_from

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    load_before, results = os.getloadavg(), []
    with tempfile.TemporaryDirectory(prefix="node_bench_") as tmp:
        os.environ["PNEUMO_AUDIT_LOG"] = str(Path(tmp) / "audit.jsonl")  # not the installation's trail
        server = start_orthanc(Path(tmp) / "orthanc")
        try:
            version = requests.get(f"{server.base}/system", auth=server.auth, timeout=5).json()["Version"]
            config = NodeConfig(("MODALITY",), DicomwebDestination(server.url), host="127.0.0.1", port=0,
                                queue_size=args.n)  # the whole burst queues: the node's pace, not the sender's
            sender = DicomwebSender(server.url, auth_from(user=USER, password=PASSWORD), allow_http=True)
            build, send = Stopwatch(), Stopwatch()
            sender.send = send.wrap(sender.send)
            with Node(config, Predictor.from_pretrained(), sender=sender, build=build.wrap(product_results)) as node:
                for side in args.sides:
                    folder = Path(tmp) / f"films_{side}"
                    folder.mkdir()
                    (Path(tmp) / f"warm_{side}").mkdir()
                    warm = _write_films(_films(args.n + 2)[-2:], side, Path(tmp) / f"warm_{side}", server,
                                        f"WARM-{side}")
                    _run(node, server, warm, build, send)
                    films = _write_films(_films(args.n), side, folder, server, f"BENCH-{side}")
                    run = _run(node, server, films, build, send)
                    mb = sum(f.stat().st_size for f in films) / len(films) / 2**20
                    results.append({"side_px": side, "file_mb_mean": mb, **run})
                    print(f"{side} px: {run['films_per_s']:.2f} films/s ({run}))", flush=True)
        finally:
            server.stop()
    record = {"what": "films per second through the DICOM node, storescu's first film to the last film's results "
                      "stored in Orthanc (SR + map over DICOMweb)",
              "model": "efficientnet_lite0 (default), input gate on, balanced operating point",
              "orthanc": version, "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "torch_threads": 2, "queue_size": args.n, "niceness": os.nice(0), "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(),
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
