"""CPU cost of scoring and explaining a radiograph: the shipped models against a
CheXNet-shaped reference (torchvision DenseNet-121, 224 px, 3 channels, one logit,
pytorch-grad-cam GradCAM on `features[-1]`), plus the saliency sanity checks.

Heatmaps timed: Grad-CAM (comparable with the reference), the default heatmap (what the app
and `predict --cam` draw) and exact 14x14 occlusion. `predict --cam` is also timed as a
command: marginal cost per film from a run on many films less one on few.

    .venv/bin/python benchmarks/bench_inference.py            # ~3-5 min on 2 cores
    .venv/bin/python benchmarks/bench_inference.py --quick    # smoke run

Prints JSON and writes benchmarks/results/inference.json. Each pipeline runs in a fresh
process, so its peak resident memory is its own. OpenMP waits as the product's does
(the `pneumo` command sets it before torch loads: `pneumo_core/cli/threads.py`). `thread_policies` times predict + the default
heatmap under four ways of using the two cores (the product's bounded spin, libgomp's
default spin, OMP_WAIT_POLICY=PASSIVE, one thread), on free cores and beside one busy loop
(another process holding a core), each in a fresh process: the evidence for the product's
choice.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pneumo_core.cli.threads import use_bounded_spin  # noqa: E402

use_bounded_spin()  # before torch: the product's OpenMP wait policy (the `pneumo` command's); children inherit it

POLICY_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
# name -> (environment overrides, None = unset; torch threads)
THREAD_POLICIES = {
    "product (bounded spin)": ({"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": pneumo_core.SPIN_COUNT}, 2),
    "libgomp default spin": ({"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "300000"}, 2),
    "passive": ({"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None}, 2),
    "one thread": ({"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": pneumo_core.SPIN_COUNT}, 1),
}
TEST = REPO / "data" / "test"
OURS = ["efficientnet_lite0", "paper_cnn"]
REFERENCE = "densenet121_reference"
TARGETS = {"predict_gradcam_ms_max": 150.0, "batch_images_per_s_min": 40.0, "gradcam_speedup_vs_reference_min": 3.0,
           "predict_default_heatmap_ms_max": 100.0, "cli_cam_marginal_ms_max": 150.0,
           "default_heatmap_speedup_vs_reference_min": 2.0}
CLI_FILMS = (8, 40)  # films in the short and the long `predict --cam` run


def _test_files() -> list[Path]:
    return sorted((TEST / "NORMAL").glob("*.jpeg")) + sorted((TEST / "PNEUMONIA").glob("*.jpeg"))


def _timed(fn, items: list, warmup: int, runs: int) -> dict:
    for i in range(warmup):
        fn(items[i % len(items)])
    times = []
    for i in range(runs):
        t = time.perf_counter()
        fn(items[i % len(items)])
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(times[int(0.9 * (len(times) - 1))], 2)}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _Reference:
    """The reference pipeline, step for step like ours: resize, standardise, one logit,
    GradCAM on the last feature map, overlay at the original size. Random weights: the
    cost does not depend on them."""

    def __init__(self, cut: bool = False) -> None:
        import torch
        import torchvision

        from pneumo_core.data.preprocess import InputSpec
        model = torchvision.models.densenet121(weights=None)
        model.classifier = torch.nn.Linear(model.classifier.in_features, 1)
        self.model = model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.spec = InputSpec(size=224, channels=3, mean=0.5, std=0.5)
        self.cut = cut  # stop backward at the target layer, as explain() does

    def predict(self, pixels_list: list) -> list[float]:
        import numpy as np
        import torch

        from pneumo_core.data.preprocess import preprocess_batch, resize_square
        x = preprocess_batch(np.stack([resize_square(p, self.spec.size) for p in pixels_list]), self.spec)
        with torch.inference_mode():
            return torch.sigmoid(self.model(x)).squeeze(1).tolist()

    def predict_sources(self, paths: list[Path], batch_size: int = 32) -> int:
        from pneumo_core.io.ingest import load
        n = 0
        for i in range(0, len(paths), batch_size):
            n += len(self.predict([load(p).pixels for p in paths[i:i + batch_size]]))
        return n

    def explain(self, pixels) -> None:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

        from pneumo_core.data.preprocess import preprocess
        from pneumo_core.io.overlay import render_overlay
        category = int(self.predict([pixels])[0] >= 0.5)
        layer = self.model.features[-1]
        # DenseNet applies an in-place ReLU to this output, so the cut returns a non-leaf copy.
        cut = layer.register_forward_hook(lambda m, i, o: o.detach().requires_grad_(True).clone()) if self.cut else None
        x = preprocess(pixels, self.spec).clone()
        if not self.cut:
            x.requires_grad_(True)  # the pytorch-grad-cam recipe for frozen parameters
        try:
            with GradCAM(model=self.model, target_layers=[layer]) as cam:
                heat = cam(input_tensor=x, targets=[BinaryClassifierOutputTarget(category)])[0]
        finally:
            if cut is not None:
                cut.remove()
        render_overlay(pixels, heat, 0.5)


def _measure(name: str, threads: int, warmup: int, runs: int, batch_limit: int | None) -> dict:
    """One pipeline in its own process: latencies, batch throughput, peak memory."""
    import torch
    torch.set_num_threads(threads)
    from pneumo_core.io.ingest import load
    rss_import = _rss_mb()
    files = _test_files()
    sample = files[:5] + files[-5:]  # 5 NORMAL, 5 PNEUMONIA
    rads = [load(f) for f in sample]
    out: dict = {"pipeline": name, "threads": torch.get_num_threads()}
    out["decode_ms"] = _timed(lambda f: load(f), sample, warmup, runs)
    batch_files = files[:batch_limit] if batch_limit else files
    if name == REFERENCE:
        ref = _Reference()
        out["input"] = "224 px, 3 channels"
        out["predict"] = _timed(lambda r: ref.predict([r.pixels]), rads, warmup, runs)
        out["predict_gradcam"] = _timed(lambda r: (ref.predict([r.pixels]), ref.explain(r.pixels)), rads, warmup, runs)
        cut = _Reference(cut=True)
        out["predict_gradcam_with_gradient_cut"] = _timed(lambda r: (cut.predict([r.pixels]), cut.explain(r.pixels)),
                                                          rads, warmup, runs)
        t = time.perf_counter()
        n = ref.predict_sources(batch_files)
    else:
        from pneumo_core.inference.predictor import Predictor
        from pneumo_core.inference.saliency import default_method, explain
        pred = Predictor(name)
        out["input"] = f"{pred.spec.size} px, {pred.spec.channels} channel(s)"
        one = lambda r: pred.predict_radiographs([r], ["x"])  # noqa: E731
        out["predict"] = _timed(one, rads, warmup, runs)
        out["predict_gradcam"] = _timed(lambda r: explain(pred, r, "gradcam", threshold=one(r)[0].threshold), rads, warmup, runs)
        out["default_heatmap_method"] = default_method(pred.bundle.arch)
        out["predict_default_heatmap"] = _timed(lambda r: explain(pred, r, threshold=one(r)[0].threshold), rads, warmup, runs)
        out["predict_occlusion_exact"] = _timed(lambda r: explain(pred, r, "occlusion", threshold=one(r)[0].threshold),
                                                rads, 1, max(3, runs // 3))
        t = time.perf_counter()
        n = sum(p.error is None for p in pred.predict_sources(((f, str(f)) for f in batch_files), batch_size=32))
    dt = time.perf_counter() - t
    out["batch"] = {"images": n, "seconds": round(dt, 2), "images_per_s": round(n / dt, 1), "batch_size": 32,
                    "includes": "JPEG decode, resize, forward" + ("" if name == REFERENCE else ", calibration, OOD score")}
    out["memory_mb"] = {"rss_after_imports": round(rss_import, 1),
                        "peak_rss": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return out


def _cli_marginal(name: str, threads: int) -> dict:
    """`predict` as a reader runs it, with and without `--cam`, on few and on many test films:
    the marginal milliseconds per film (start-up and model loading cancel out)."""
    import subprocess
    import tempfile
    files = _test_files()
    films = [str(f) for f in files[:CLI_FILMS[1] // 2] + files[-CLI_FILMS[1] // 2:]]  # half NORMAL, half PNEUMONIA
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cam in (False, True):
            for n in CLI_FILMS:
                cmd = [sys.executable, "-m", "pneumo_core", "predict", "--quiet", "--model", name,
                       *(["--cam", f"{tmp}/cam{n}"] if cam else []), *films[:n // 2], *films[-(n // 2):]]
                t = time.perf_counter()
                subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
                seconds[(cam, n)] = time.perf_counter() - t
    dn = CLI_FILMS[1] - CLI_FILMS[0]
    marginal = {cam: 1000 * (seconds[(cam, CLI_FILMS[1])] - seconds[(cam, CLI_FILMS[0])]) / dn for cam in (False, True)}
    return {"model": name, "films": list(CLI_FILMS), "threads": threads,
            "seconds": {f"{'cam' if c else 'plain'}_{n}": round(s, 2) for (c, n), s in seconds.items()},
            "marginal_ms_per_film_predict": round(marginal[False], 1),
            "marginal_ms_per_film_predict_cam": round(marginal[True], 1),
            "marginal_ms_per_film_heatmap_only": round(marginal[True] - marginal[False], 1)}


def _policy_probe(threads: int, runs: int) -> dict:
    """Run in a child with the policy's environment: median predict and predict + the
    default heatmap of the default model on the 10 latency films."""
    import torch
    torch.set_num_threads(threads)
    from pneumo_core.inference.predictor import Predictor
    from pneumo_core.inference.saliency import explain
    from pneumo_core.io.ingest import load
    files = _test_files()
    rads = [load(f) for f in files[:5] + files[-5:]]
    pred = Predictor(OURS[0])
    one = lambda r: pred.predict_radiographs([r], ["x"])  # noqa: E731
    return {"predict": _timed(one, rads, 3, runs),
            "predict_default_heatmap": _timed(lambda r: explain(pred, r, threshold=one(r)[0].threshold), rads, 3, runs)}


def _thread_policy(_label: str, runs: int) -> dict:
    """Each policy in a fresh interpreter (OpenMP reads its environment when torch loads), on
    free cores and beside a busy loop that holds one core (another process on the machine)."""
    import subprocess
    out: dict = {}
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            time.sleep(1.0 if busy else 0.0)
            for name, (overrides, threads) in THREAD_POLICIES.items():
                env = {k: v for k, v in os.environ.items() if k not in overrides}
                env |= {k: v for k, v in overrides.items() if v is not None}
                code = (f"import json, sys; sys.path.insert(0, {str(REPO)!r}); sys.argv = ['probe'];"
                        f"import benchmarks.bench_inference as b; print(json.dumps(b._policy_probe({threads}, {runs})))")
                done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                                      check=True)
                probe = json.loads(done.stdout.strip().splitlines()[-1])
                out.setdefault(name, {"environment": {k: v for k, v in overrides.items() if v is not None},
                                      "threads": threads})["one_core_busy" if busy else "free_cores"] = probe
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    return out


def _sanity(_label: str, threads: int, n: int) -> dict:
    import torch
    torch.set_num_threads(threads)
    from pneumo_core.evaluation.saliency_checks import sanity_checks
    from pneumo_core.inference.predictor import Predictor
    files = sorted((TEST / "PNEUMONIA").glob("*.jpeg"))
    return {name: sanity_checks(Predictor(name), files, n=n, seed=0) for name in OURS}


def _weights() -> dict:
    """sha256 of each shipped model's weights, to tie figures to weights (they get retrained)."""
    return {name: json.loads((REPO / "weights" / name / "model.json").read_text()).get("model_sha256") for name in OURS}


def _cpu() -> dict:
    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")]
    pressure = Path("/proc/pressure/cpu")
    return {"model": names[0] if names else platform.processor(), "logical_cpus": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)),
            "cpu_pressure": pressure.read_text().splitlines()[0] if pressure.is_file() else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=15, help="timed runs per latency (after 3 warm-up runs)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 runs, 64 batch images, 5 sanity images")
    ap.add_argument("--out", type=Path, help="default benchmarks/results/inference.json (inference.quick.json with --quick)")
    args = ap.parse_args(argv)
    runs, batch_limit, n_sanity = (3, 64, 5) if args.quick else (args.runs, None, 20)
    out = args.out or REPO / "benchmarks" / "results" / ("inference.quick.json" if args.quick else "inference.json")
    import importlib.metadata as md
    result: dict = {
        "cpu": _cpu(), "load_average_before": os.getloadavg(),
        "note": "shared machine: other engineers' jobs may have been running; see load averages and cpu_pressure",
        "versions": {p: md.version(p) for p in ("torch", "torchvision", "grad-cam")} | {"python": platform.python_version()},
        "openmp": {k: os.environ.get(k) for k in POLICY_ENV}, "threads": args.threads,
        "latency": "median of timed single-image calls on 10 decoded test images (5 NORMAL, 5 PNEUMONIA), after 3 warm-up calls",
        "predict_gradcam": "Predictor.predict_radiographs + saliency.explain (Grad-CAM, overlay at original size)",
        "predict_default_heatmap": "the same with the product's default heatmap method (see default_heatmap_method)",
        "cli_predict_cam": "`python -m pneumo_core predict [--cam DIR]` on 8 and on 40 test films (half of each class); "
                           "marginal = time difference / 32",
        "reference": "torchvision densenet121(weights=None) + Linear(1024, 1); GradCAM on features[-1] with the "
                     "pytorch-grad-cam recipe (frozen parameters, input requiring grad, full backward)",
        "thread_policies": "predict + the default heatmap (as predict_default_heatmap), each policy in a fresh "
                         "process: on free cores, and beside a pure-Python busy loop in another process",
        "weights_sha256": _weights(),
        "pipelines": {},
    }
    started = time.perf_counter()
    ctx = get_context("spawn")

    def stage(fn, *fn_args) -> dict:
        """Runs in a fresh process; a failure is recorded, and the other stages still run."""
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                return pool.submit(fn, *fn_args).result()
        except Exception as exc:  # noqa: BLE001
            return {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            print(f"{fn_args[0]}: done at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    for name in OURS + [REFERENCE]:
        result["pipelines"][name] = stage(_measure, name, args.threads, 3, runs, batch_limit)
    result["cli_predict_cam"] = stage(_cli_marginal, OURS[0], args.threads)
    result["saliency_checks"] = stage(_sanity, "saliency checks", args.threads, n_sanity)
    result["thread_policies"] = stage(_thread_policy, "thread policies", runs)
    failed = [k for k, v in [*result["pipelines"].items(), ("saliency_checks", result["saliency_checks"]),
                             ("cli_predict_cam", result["cli_predict_cam"]),
                             ("thread_policies", result["thread_policies"])] if "error" in v]
    if failed:
        result["failed_stages"] = failed
        return _write(result, out, started, code=1)
    ref = result["pipelines"][REFERENCE]
    result["ratios_reference_over_ours"] = {
        name: {"predict_latency": round(ref["predict"]["median_ms"] / p["predict"]["median_ms"], 2),
               "predict_gradcam_latency": round(ref["predict_gradcam"]["median_ms"] / p["predict_gradcam"]["median_ms"], 2),
               "predict_default_heatmap_latency":
                   round(ref["predict_gradcam"]["median_ms"] / p["predict_default_heatmap"]["median_ms"], 2),
               "predict_gradcam_latency_both_with_gradient_cut":
                   round(ref["predict_gradcam_with_gradient_cut"]["median_ms"] / p["predict_gradcam"]["median_ms"], 2),
               "batch_throughput": round(ref["batch"]["images_per_s"] / p["batch"]["images_per_s"], 2),
               "peak_rss": round(ref["memory_mb"]["peak_rss"] / p["memory_mb"]["peak_rss"], 2)}
        for name, p in result["pipelines"].items() if name != REFERENCE}
    result["targets"] = _targets(result)
    return _write(result, out, started, code=0)


def _targets(result: dict) -> dict:
    default, ratios = result["pipelines"][OURS[0]], result["ratios_reference_over_ours"][OURS[0]]
    met = {"predict_gradcam_ms_met": default["predict_gradcam"]["median_ms"] <= TARGETS["predict_gradcam_ms_max"],
           "batch_images_per_s_met": default["batch"]["images_per_s"] >= TARGETS["batch_images_per_s_min"],
           "gradcam_speedup_met": ratios["predict_gradcam_latency"] >= TARGETS["gradcam_speedup_vs_reference_min"],
           "predict_default_heatmap_ms_met":
               default["predict_default_heatmap"]["median_ms"] <= TARGETS["predict_default_heatmap_ms_max"],
           "cli_cam_marginal_ms_met":
               result["cli_predict_cam"]["marginal_ms_per_film_predict_cam"] <= TARGETS["cli_cam_marginal_ms_max"],
           "default_heatmap_speedup_met":
               ratios["predict_default_heatmap_latency"] >= TARGETS["default_heatmap_speedup_vs_reference_min"]}
    return {"model": OURS[0], **TARGETS, **met}


def _write(result: dict, out: Path, started: float, code: int) -> int:
    if _weights() != result["weights_sha256"]:
        result["warning"] = f"weights changed during the run; now {_weights()}"
    result["load_average_after"] = os.getloadavg()
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=1)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
