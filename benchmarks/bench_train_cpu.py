"""How long does the documented training command take on this machine's CPU?

Runs one real epoch of each architecture on the full training set (CPU only), reads the
per-epoch time from the run's history, and projects the documented command's total
(decode + epochs x epoch time + finalisation). Prints JSON and writes
benchmarks/results/train_cpu.json.

    python benchmarks/bench_train_cpu.py --data ../shared/data/chest_xray
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pneumo_core.config import TrainConfig  # noqa: E402
from pneumo_core.models import REGISTRY  # noqa: E402
from pneumo_core.train import hardware_name, train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data/chest_xray"))
    ap.add_argument("--archs", nargs="+", default=["efficientnet_lite0", "paper_cnn"])
    args = ap.parse_args()
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
