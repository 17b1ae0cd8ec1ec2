"""Hostile inputs through the real app's paths: refused or not, the one line shown, wall time,
and the peak memory of the server process and of the decode worker.

    .venv/bin/python benchmarks/hostile_inputs.py     # about 3 minutes on 2 shared cores

Each attack a security review found is crafted in memory (`harness/hostile_files.py`) and
handed to the function the app calls:
- Diagnose uploads: the page itself, driven by `streamlit.testing.v1.AppTest` (the script
  runs in this process, so this process is the server); the line is the results table's
  "warnings / error" cell, and `leaks_patient` says whether the crafted name appears anywhere
  on the page;
- site-calibration zips: `site_uploads.gather`, what `site_page.calibrate` calls; the session
  budget: `io.budget.UploadBudget.admit`, what both upload pages call;
- a batch with bombs in the middle: `Predictor.predict_sources` (the CLI's, the PACS's and the
  site sample's path).
`unguarded` runs the same files through the bare library call each attack abused (pydicom's
`pixel_array`, Pillow's `n_frames`, `zipfile`'s listing), in a child process capped at 6 GB,
to show what each attack cost before. `overhead` times the worker's round trip per film
against an in-process decode of the same full-size test films.

Server peak: this process's VmHWM, reset before each attack (Linux `clear_refs`); worker
peak: the highest VmHWM seen on a child process, sampled every 5 ms. Writes
benchmarks/results/hostile_inputs.json. Nothing is asserted: the tests assert.
"""
from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from harness import hostile_files as hf  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "hostile_inputs.json"
FILMS = ROOT.parent / "shared" / "data" / "chest_xray" / "test"


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def _children() -> list[int]:
    pids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def measure(fn) -> tuple[object, dict]:
    """fn()'s result and its wall time, the server's peak and rise, and the workers' peak."""
    worker_peak, stop = [0.0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in _children():
                worker_peak[0] = max(worker_peak[0], hf.peak_memory_mb(pid))
            time.sleep(0.005)
    before = _rss_mb()
    hf.reset_peak_memory()
    for pid in _children():  # a kept worker's peak so far is not this attack's
        hf.reset_peak_memory(pid)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    peak = hf.peak_memory_mb()
    return out, {"seconds": round(seconds, 3), "server_peak_mb": round(peak), "server_rise_mb": round(peak - before),
                 "worker_peak_mb": round(worker_peak[0])}


def _app():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    return at.run()


def _page_text(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "text", "title", "subheader"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [e.value.to_string() for e in at.dataframe]
    return "\n".join(parts)


def diagnose(name: str, data: bytes, mime: str) -> dict:
    at = _app()
    at, m = measure(lambda: at.file_uploader[0].set_value([(name, data, mime)]).run())
    row = at.dataframe[0].value.iloc[0]
    return {"refused": row["label"] not in ("NORMAL", "PNEUMONIA", "not assessed"), "label": row["label"],
            "message": row["warnings / error"], "leaks_patient": "SMITH" in _page_text(at), **m}


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def site_zips(zips: list[bytes]) -> dict:
    from pneumo_core.app.site.site_uploads import UploadRefused, gather

    def run():
        try:
            files, _ = gather(None, None, [_Upload(f"{i}.zip", z) for i, z in enumerate(zips)])
            return f"read {len(files)} films"
        except UploadRefused as exc:
            return exc
    out, m = measure(run)
    return {"refused": isinstance(out, Exception), "message": str(out), "leaks_patient": False, **m}


def zero_films_zip(mb: int) -> bytes:
    """A zip of NORMAL/ films that are zeros: ~1000:1 compressed, `mb` MB once read."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(mb // 10):
            zf.writestr(f"NORMAL/film{i}.png", bytes(10 * 2**20))
    return buf.getvalue()


def session_budget(sizes: list[int]) -> dict:
    from pneumo_core.io.budget import UploadBudget
    (n, message), m = measure(lambda: UploadBudget().admit("diagnose", "uploads", sizes))
    return {"refused": message is not None, "message": f"{n} of {len(sizes)} read. {message}", "leaks_patient": False,
            **m}


_UNGUARDED = {
    "dicom": "import pydicom,sys; pydicom.dcmread(sys.argv[1]).pixel_array",
    "tiff": "from PIL import Image; import sys; Image.open(sys.argv[1]).n_frames",
    "zip": "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).infolist()",
}


def unguarded(kind: str, data: bytes) -> dict:
    """The bare library call in a child process capped at 6 GB: time and the child's peak."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as fh:
        fh.write(data)
        fh.flush()
        code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30,) * 2)\n"
                "import time; t = time.perf_counter()\ntry:\n    exec(%r)\n    ok = 'completed'\n"
                "except BaseException as e:\n    ok = type(e).__name__\n"
                "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024\n"
                "print(ok, time.perf_counter() - t, peak)"
                % _UNGUARDED[kind])
        run = subprocess.run([sys.executable, "-c", code, fh.name], capture_output=True, text=True, timeout=600)
    outcome, seconds, peak = (run.stdout.split() + ["killed", "nan", "nan"])[:3]
    return {"outcome": outcome, "seconds": round(float(seconds), 3), "peak_mb": round(float(peak))}


def batch() -> dict:
    from pneumo_core.inference.predictor import Predictor
    films = sorted((FILMS / "NORMAL").glob("*.jpeg"))[:2]
    sources = [(films[0].read_bytes(), "first.jpeg"), (hf.deflate_bomb_dicom(3500), hf.PATIENT + ".dcm"),
               (hf.j2k_bomb_dicom(), "bomb.dcm"), (films[1].read_bytes(), "last.jpeg")]
    predictor = Predictor()
    preds, m = measure(lambda: list(predictor.predict_sources(sources)))
    return {"files": [name for _, name in sources], "scored": [p.probability is not None for p in preds],
            "errors": [p.error for p in preds], **m}


def _full_size(kind: str, i: int) -> bytes:
    """A test film enlarged to a CR's 2048x2500, as JPEG or as 16-bit DICOM (the shipped
    films are 224 px; a reading room's are ~5 MP)."""
    import numpy as np
    from PIL import Image
    film = sorted((FILMS / "PNEUMONIA").glob("*.jpeg"))[i]
    img = Image.open(film).convert("L").resize((2048, 2500), Image.BICUBIC)
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=95)
        return buf.getvalue()
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.Rows, ds.Columns, ds.SamplesPerPixel = "CR", 2500, 2048, 1
    ds.PhotometricInterpretation, ds.BitsAllocated, ds.BitsStored, ds.HighBit = "MONOCHROME2", 16, 12, 11
    ds.PixelRepresentation, ds.PixelData = 0, (np.asarray(img, np.uint16) * 16).tobytes()
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def overhead(n: int = 20) -> dict:
    """Worker round trip per film, against an in-process decode of the same bytes: the shipped
    224 px test films, and films enlarged to a CR's size as JPEG and as 16-bit DICOM."""
    sets = {"shipped test films (224 px JPEG)": [p.read_bytes() for c in ("NORMAL", "PNEUMONIA")
                                                 for p in sorted((FILMS / c).glob("*.jpeg"))[:n // 2]],
            "2048x2500 JPEG": [_full_size("jpeg", i) for i in range(5)],
            "2048x2500 16-bit DICOM": [_full_size("dicom", i) for i in range(5)]}
    return {name: _overhead(films) for name, films in sets.items()}


def _overhead(films: list[bytes]) -> dict:
    from pneumo_core.io.ingest import load
    from pneumo_core.io.sandbox import DecodePool
    pool = DecodePool()
    start = time.perf_counter()
    pool.load(films[0])
    cold = time.perf_counter() - start
    inproc, worker = [], []
    for data in films:
        t0 = time.perf_counter()
        rad = load(data)
        t1 = time.perf_counter()
        pool.load(data)
        worker.append(time.perf_counter() - t1)
        inproc.append(t1 - t0)
        del rad
    pool.close()
    extra = [w - i for w, i in zip(worker, inproc)]
    return {"films": len(films), "in_process_median_s": round(statistics.median(inproc), 4),
            "worker_median_s": round(statistics.median(worker), 4), "overhead_median_s": round(statistics.median(extra), 4),
            "overhead_mean_s": round(statistics.mean(extra), 4), "cold_first_film_s": round(cold, 3),
            "cold_start_overhead_s": round(cold - inproc[0], 3)}


def main() -> None:
    import torch
    torch.set_num_threads(1)
    from pneumo_core.io import budget, sandbox
    t = time.perf_counter()
    _app().file_uploader[0].set_value([("warm.png", hf.png(512), "image/png")]).run()  # model, worker: not timed
    warm = time.perf_counter() - t
    tiff, zip800k = hf.chained_tiff(20_000), hf.many_entry_zip(800_000)
    j2k, deflate = hf.j2k_bomb_dicom(16000), hf.deflate_bomb_dicom(3500)
    attacks = [
        ("J2K bomb DICOM (SIZ 16000x16000, header 512x512)", "diagnose", lambda: diagnose("a.dcm", j2k, "application/dicom")),
        ("J2K codestream unlike its header (SIZ 7000x7000, header 512x512)", "diagnose",
         lambda: diagnose("b.dcm", hf.j2k_bomb_dicom(7000), "application/dicom")),
        ("J2K claim matching its header (7000x7000, 780 bytes): passes the checks", "diagnose",
         lambda: diagnose("h.dcm", hf.j2k_bomb_dicom(7000, header=7000), "application/dicom")),
        ("Deflate bomb DICOM (3.5 MB inflating to 3.5 GB)", "diagnose",
         lambda: diagnose("c.dcm", deflate, "application/dicom")),
        ("TIFF with 20,000 chained frame headers", "diagnose", lambda: diagnose("d.tif", tiff, "image/tiff")),
        ("49-megapixel flat PNG (within the pixel limit)", "diagnose",
         lambda: diagnose("e.png", hf.png(7000), "image/png")),
        ("Unknown transfer syntax carrying a patient name", "diagnose",
         lambda: diagnose("f.dcm", hf.transfer_syntax_echo_dicom(), "application/dicom")),
        ("Header values carrying a patient name (pydicom warnings)", "diagnose",
         lambda: diagnose("g.dcm", hf.warning_echo_dicom(), "application/dicom")),
        ("Zip listing 800,000 entries", "site calibration", lambda: site_zips([zip800k])),
        ("Two zips of 150 MB of films each (cap 256 MB together)", "site calibration",
         lambda: site_zips([zero_films_zip(150), zero_films_zip(150)])),
        ("601 files in one session", "session budget", lambda: session_budget([2**10] * 601)),
        ("Fifty 50 MB files in one session", "session budget", lambda: session_budget([50 * 2**20] * 50)),
    ]
    rows = []
    for name, path, run in attacks:
        row = {"attack": name, "path": path, **run()}
        rows.append(row)
        print(f"{name:68s} refused={row['refused']!s:5s} {row['seconds']:7.2f}s server +{row['server_rise_mb']} MB "
              f"(peak {row['server_peak_mb']}) worker {row['worker_peak_mb']} MB | {row['message']}", flush=True)
    before = {"J2K bomb DICOM: pydicom pixel_array": unguarded("dicom", j2k),
              "TIFF 20,000 frames: Pillow n_frames": unguarded("tiff", tiff),
              "Zip 800,000 entries: zipfile listing": unguarded("zip", zip800k)}
    print(json.dumps(before, indent=1), flush=True)
    result = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "load_avg": os.getloadavg(), "warm_up_s": round(warm, 2),
              "limits": {"worker_memory_bytes": sandbox.WORKER_MEMORY_BYTES, "worker_cpu_seconds": sandbox.WORKER_CPU_SECONDS,
                         "worker_wall_seconds": sandbox.WORKER_WALL_SECONDS, "heavy_workers": budget.HEAVY_WORKERS,
                         "session_files": budget.MAX_SESSION_FILES, "session_bytes": budget.MAX_SESSION_BYTES},
              "attacks": rows, "unguarded": before, "batch": batch(), "overhead": overhead()}
    print(json.dumps({k: result[k] for k in ("batch", "overhead")}, indent=1))
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
