"""Hostile inputs through the real app's paths: refused or not, the one line shown, wall time,
and the peak memory of the server process and of the decode worker.

    .venv/bin/python benchmarks/hostile_inputs.py     # about 3 minutes on 2 shared cores
    .venv/bin/python benchmarks/hostile_inputs.py --only issue27 [--label before]   # ~1 minute

`--only issue27` runs only the attacks of issue #27 (float films in a batch, through the
predictor, the command line and the Diagnose page; an audit trail that cannot be written; the
audit hash of a refused 2 GB file) and stores them under `issue27[label]` in the same JSON,
leaving the other rows as they were: run it from a checkout of the code before a fix with
`--label before --out <this checkout's JSON>` to record what the fix changed.

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


# --- issue #27: float films, a trail that cannot be written, the hash of a refused file ---------
def _cli(paths: list[Path], trail: str, films: int | None = None) -> dict:
    """The command line on `paths`: exit code, lines printed, stderr's lines, and its peak
    memory (measured by a parent that runs nothing else: RUSAGE_CHILDREN's maximum is its own)."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run([sys.executable, '-m', 'pneumo_core', 'predict', '--quiet', *sys.argv[1:]],"
            " capture_output=True, text=True)\n"
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, len(r.stdout.splitlines()))\n"
            "sys.stdout.write(r.stderr)")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code, *map(str, paths)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env=dict(os.environ, PNEUMO_AUDIT_LOG=trail))
    head, *stderr = run.stdout.splitlines()
    rc, peak, lines = (int(v) for v in head.split())
    return {"films": films or len(paths), "lines_printed": lines, "exit_code": rc, "stderr_lines": len(stderr),
            "traceback": any(line.startswith("Traceback") for line in stderr),
            "last_stderr_line": stderr[-1][:160] if stderr else "", "peak_mb": peak,
            "seconds": round(time.perf_counter() - start, 2)}


def _float_films() -> list[tuple[bytes, str]]:
    films = sorted((FILMS / "NORMAL").glob("*.jpeg"))[:2]
    return [(films[0].read_bytes(), "first.jpeg"), (hf.float_dicom_with_infinity(), "infinity.dcm"),
            (hf.extreme_float_tiff(), "extreme.tif"), (films[1].read_bytes(), "last.jpeg")]


def issue27() -> dict:
    """Each attack of issue #27 through the door it took down, as the product stands."""
    from pneumo_core.inference.predictor import Predictor
    films = _float_films()
    out = {}
    predictor = Predictor()

    def batch_run():
        try:
            return [p.error or p.status for p in predictor.predict_sources(films)]
        except Exception as exc:  # noqa: BLE001 - what the attack did is the measurement
            return f"batch aborted: {type(exc).__name__}"
    result, m = measure(batch_run)
    out["float films in a batch: Predictor.predict_sources"] = {"films": [n for _, n in films], "result": result, **m}
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "films"
        folder.mkdir()
        for data, name in films:
            (folder / name).write_bytes(data)
        trail = str(Path(d) / "audit.jsonl")
        out["float films in a folder: predict"] = _cli([folder], trail, films=len(films))
        blocker = Path(d) / "a-file"
        blocker.write_text("")
        good = [folder / "first.jpeg", folder / "last.jpeg"]
        out["audit trail that cannot be created, two films: predict"] = _cli(good, str(blocker / "audit.jsonl"))
        out["audit trail on a full disk (/dev/full), two films: predict"] = _cli(good, "/dev/full")
        big = Path(d) / "big.dcm"
        with open(big, "wb") as fh:  # sparse: no disk used, 2 GB if read
            fh.truncate(2 * 2**30)
        out["one small film: predict (baseline)"] = _cli([folder / "first.jpeg"], trail)
        out["refused 2 GB file and one small film: predict"] = _cli([big, folder / "first.jpeg"], trail)
    at = _app()
    at, m = measure(lambda: at.file_uploader[0].set_value(
        [(name, data, "application/octet-stream") for data, name in films]).run())
    rows = len(at.dataframe[0].value) if at.dataframe else 0
    out["float films uploaded together: Diagnose page"] = {
        "films": len(films), "result_rows": rows, "exception": [str(e.value)[:160] for e in at.exception],
        **m}
    return out


def _only_issue27(label: str, out: Path) -> None:
    import torch
    torch.set_num_threads(1)
    rows = issue27()
    print(json.dumps(rows, indent=1), flush=True)
    result = json.loads(out.read_text()) if out.exists() else {}
    record = result.setdefault("issue27", {})
    record[label] = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "load_avg": os.getloadavg(),
                     "rows": rows}
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote issue27[{label}] to {out}")


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["issue27"], help="run only these attacks, keeping the other rows")
    parser.add_argument("--label", default="after", help="with --only: the record's name (e.g. before, after)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.only:
        return _only_issue27(args.label, args.out)
    _all(args.out)


def _all(out_path: Path) -> None:
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
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    result["issue27"] = {**previous.get("issue27", {}), "after": {"when": result["when"], "load_avg": os.getloadavg(),
                                                                  "rows": issue27()}}
    out_path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
