"""Scoring a 100-instance study through DICOMweb against scoring the same DICOM files from
disk: images per second each, their ratio, and peak resident memory.

A real Orthanc (Debian's `orthanc` + `orthanc-dicomweb`, `make orthanc`) runs on a loopback
port with HTTP basic auth, as in tests/pacs. The films are the first N official test images
(NORMAL and PNEUMONIA alternately), written as 16-bit MONOCHROME2 CR DICOMs at each side
length asked for: 224 px is the dataset as shipped, 2048 px is the size of a real chest film
(about 8 MB per file). Both pipelines run the product path with the default model and the
input gate on: files through `Predictor.predict_sources` (the CLI's batch of 32), the study
through `pacs.score.score_study` (QIDO-RS listing, WADO-RS retrieval, `io.ingest`, batches
of 8). Each pipeline runs in a fresh process (so its peak RSS is its own) after scoring four
files as a warm-up; the rounds alternate the two, and the median round is reported.

    .venv/bin/python benchmarks/pacs_throughput.py [--n 100] [--sides 224 2048] [--rounds 3]

Results in `results/pacs_throughput.json`. The machine is shared, so the JSON records the
load average before and after; torch uses 2 threads and the product's OpenMP policy (set
by the `pneumo` command before torch loads, `pneumo_core/cli/threads.py`; recorded in the JSON).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pneumo_core.cli.threads import use_bounded_spin  # noqa: E402

use_bounded_spin()  # before torch: the product's OpenMP wait policy (the `pneumo` command's); children inherit it
OUT = REPO / "benchmarks" / "results" / "pacs_throughput.json"


def _films(n: int) -> list[Path]:
    normal = sorted((REPO / "data" / "test" / "NORMAL").glob("*.jpeg"))
    pneumonia = sorted((REPO / "data" / "test" / "PNEUMONIA").glob("*.jpeg"))
    mixed = [p for pair in zip(normal, pneumonia) for p in pair]
    return mixed[:n]


def _dicom(image: Path, side: int, study, series: str, number: int) -> bytes:
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    gray = Image.open(image).convert("L").resize((side, side), Image.BICUBIC)
    pixels = (np.asarray(gray, np.uint16) * 16 + 8)  # 12 bits stored, as CR films are
    ds = pydicom.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1", generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study.uid, series
    ds.PatientName, ds.PatientID, ds.AccessionNumber, ds.StudyDate = "BENCH^MARK", "BENCH", study.accession, study.date
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition, ds.InstanceNumber = "CR", "CHEST", "PA", number
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = side, side, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args: argparse.Namespace) -> None:
    """One pipeline, one process: prints {"seconds", "n", "scored", "rss_*_mb"}."""
    import torch

    from pneumo_core.inference.predictor import Predictor
    torch.set_num_threads(2)
    files = sorted(Path(args.folder).glob("*.dcm"))
    predictor = Predictor()
    list(predictor.predict_sources([(p, str(p)) for p in files[:4]]))  # warm-up, not timed
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    if args.child == "files":
        preds = list(predictor.predict_sources(((p, str(p)) for p in files), batch_size=32))
    else:
        from pneumo_core.pacs.client import PacsClient
        from pneumo_core.pacs.config import auth_from_env
        from pneumo_core.pacs.score import score_study
        from pneumo_core.pacs.study import plan_study
        with PacsClient(args.url, auth_from_env()) as client:
            plan = plan_study(client.instances(args.study))
            preds = [s.prediction for s in score_study(predictor, client, plan)]
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "n": len(preds), "scored": sum(p.probability is not None for p in preds),
                      "errors": sum(p.error is not None for p in preds), "rss_before_mb": rss_before,
                      "rss_peak_mb": _rss_mb()}))


def _run_child(mode: str, folder: Path, url: str, study: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--folder", str(folder), "--url", url,
                          "--study", study], capture_output=True, text=True, env=env, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--sides", type=int, nargs="+", default=[224, 2048])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--child", choices=["files", "dicomweb"], help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--study", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return _child(args)

    import requests
    from harness.orthanc_server import PASSWORD, USER, new_study, start_orthanc
    from pydicom.uid import generate_uid

    films = _films(args.n)
    load_before = os.getloadavg()
    env = dict(os.environ, PNEUMO_DICOMWEB_ALLOW_HTTP="1", PNEUMO_DICOMWEB_USER=USER, PNEUMO_DICOMWEB_PASSWORD=PASSWORD,
               PYTHONPATH=str(REPO))
    env.pop("PNEUMO_DICOMWEB_TOKEN", None)
    results = []
    with tempfile.TemporaryDirectory(prefix="pacs_bench_") as tmp:
        server = start_orthanc(Path(tmp) / "orthanc")
        try:
            version = requests.get(f"{server.base}/system", auth=server.auth, timeout=5).json()["Version"]
            for side in args.sides:
                folder = Path(tmp) / f"films_{side}"
                folder.mkdir()
                study = new_study(f"BENCH-{side}", date(2024, 1, 1))
                series = generate_uid()
                total_bytes = 0
                for i, film in enumerate(films, 1):
                    data = _dicom(film, side, study, series, i)
                    (folder / f"{i:04d}.dcm").write_bytes(data)
                    server.upload(data)
                    total_bytes += len(data)
                rounds = {"files": [], "dicomweb": []}
                for r in range(args.rounds):
                    for mode in (("files", "dicomweb") if r % 2 == 0 else ("dicomweb", "files")):
                        rounds[mode].append(_run_child(mode, folder, server.url, study.uid, env))
                        print(f"side {side} round {r + 1} {mode}: {rounds[mode][-1]}", flush=True)
                summary = {}
                for mode, runs in rounds.items():
                    med = sorted(runs, key=lambda x: x["seconds"])[len(runs) // 2]
                    summary[mode] = {"images_per_s": med["n"] / med["seconds"], "seconds": med["seconds"],
                                     "n": med["n"], "scored": med["scored"], "errors": med["errors"],
                                     "rss_peak_mb": max(x["rss_peak_mb"] for x in runs),
                                     "rss_after_warmup_mb": statistics.median(x["rss_before_mb"] for x in runs),
                                     "rounds_images_per_s": [x["n"] / x["seconds"] for x in runs]}
                results.append({"side_px": side, "file_mb_mean": total_bytes / len(films) / 2**20, **summary,
                                "throughput_ratio_dicomweb_over_files":
                                    summary["dicomweb"]["images_per_s"] / summary["files"]["images_per_s"]})
        finally:
            server.stop()
    record = {"n_instances": len(films), "model": "efficientnet_lite0 (default), input gate on",
              "orthanc": version, "transport": "HTTP on loopback, basic auth, WADO-RS transfer-syntax=*",
              "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": 2,
              "openmp": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")},
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    for r in results:
        print(f"{r['side_px']} px ({r['file_mb_mean']:.2f} MB/file): files {r['files']['images_per_s']:.1f} img/s "
              f"(peak {r['files']['rss_peak_mb']:.0f} MB), DICOMweb {r['dicomweb']['images_per_s']:.1f} img/s "
              f"(peak {r['dicomweb']['rss_peak_mb']:.0f} MB), ratio {r['throughput_ratio_dicomweb_over_files']:.2f}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
