"""How long does the documented training command take on this machine's CPU?

Default: one real epoch of each architecture on the full training set (CPU only), projected
to the documented command's total (decode + epochs x epoch time + finalisation); writes
benchmarks/results/train_cpu.json.

`--full` runs the documented command itself, end to end, into a temporary folder; `--from-run
DIR` summarises a finished CPU run of it (`python -m pneumo_core train ... --out DIR`). Both
write benchmarks/results/train_cpu_full.json: measured wall time, epochs, per-epoch seconds and
the run's validation metrics (the run is a timing check, never a candidate for shipping).

    python benchmarks/bench_train_cpu.py --data ../shared/data/chest_xray [--full | --from-run DIR] [--record-in weights]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pneumo_core.models.metadata import read_metadata, write_metadata  # noqa: E402
from pneumo_core.models.registry import REGISTRY  # noqa: E402
from pneumo_core.training.config import TrainConfig  # noqa: E402
from pneumo_core.training.run_summary import summarise_run  # noqa: E402
from pneumo_core.training.train import hardware_name, train  # noqa: E402


def full_runs(args: argparse.Namespace) -> None:
    """Measured end-to-end runs (or summaries of finished ones), merged into one results file."""
    res = Path(__file__).resolve().parent / "results" / "train_cpu_full.json"
    for arch in args.archs:
        if args.from_run:
            summary = summarise_run(args.from_run)
            arch = read_metadata(args.from_run / "model.json").architecture
        else:
            with tempfile.TemporaryDirectory() as tmp:
                train(TrainConfig(data=args.data, arch=arch, out=Path(tmp) / arch, run_dir=Path(tmp) / "run", device="cpu"))
                summary = summarise_run(Path(tmp) / arch)
            summary["load_average_after"] = Path("/proc/loadavg").read_text().split()[:3]
        print(json.dumps({arch: summary}), flush=True)
        out = json.loads(res.read_text()) if res.is_file() else {}  # re-read: another run may have written meanwhile
        out[arch] = summary
        res.parent.mkdir(exist_ok=True)
        res.write_text(json.dumps(out, indent=2) + "\n")
        if args.record_in:
            record_in_model_json(args.record_in, arch, summary)
        if args.from_run:
            break


def record_in_model_json(weights_root: Path, arch: str, summary: dict) -> None:
    """The shipped model's model.json says what the documented command costs on a CPU
    (the model itself may have been trained elsewhere; `training.hardware` says where)."""
    path = weights_root / arch / "model.json"
    meta = read_metadata(path)
    meta.training["cpu_time"] = {
        "measured_minutes_for_documented_command": summary["measured_minutes"], "cpu": summary["hardware"],
        "epochs_run": summary["epochs_run"], "torch": summary["torch"],
        **({"minutes_without_early_stop": summary["minutes_without_early_stop"]} if "minutes_without_early_stop" in summary else {}),
        "source": "benchmarks/bench_train_cpu.py --full or --from-run -> benchmarks/results/train_cpu_full.json"}
    write_metadata(meta, path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data/chest_xray"))
    ap.add_argument("--archs", nargs="+", default=["efficientnet_lite0", "paper_cnn"])
    ap.add_argument("--full", action="store_true", help="run the documented command end to end (about 1.5 h per model)")
    ap.add_argument("--from-run", type=Path, help="summarise a finished CPU run of the documented command")
    ap.add_argument("--record-in", type=Path, metavar="WEIGHTS", help="also write the measured time into WEIGHTS/ARCH/model.json")
    args = ap.parse_args()
    if args.full or args.from_run:
        return full_runs(args)
    import torch
    out = {"cpu": hardware_name(torch.device("cpu")), "torch_threads": torch.get_num_threads(), "models": {}}
    for arch in args.archs:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(data=args.data, arch=arch, out=Path(tmp) / arch, run_dir=Path(tmp) / "run", epochs=1,
                              device="cpu")
            t0 = time.time()
            train(cfg)
            wall = time.time() - t0
            epoch_s = json.loads((Path(tmp) / arch / "history.json").read_text())[0]["seconds"]
        epochs = REGISTRY[arch].train_defaults["epochs"]
        out["models"][arch] = {"one_epoch_run_seconds": round(wall, 1), "epoch_seconds": epoch_s,
                               "documented_epochs": epochs,
                               "projected_minutes_for_documented_command": round((wall - epoch_s + epochs * epoch_s) / 60, 1)}
        print(json.dumps({arch: out["models"][arch]}), flush=True)
    res = Path(__file__).resolve().parent / "results"
    res.mkdir(exist_ok=True)
    (res / "train_cpu.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
