"""The GPU path, checked in one prepared run on a machine with a CUDA device.

1. torch sees a GPU and `run.device = "auto"` resolves to it;
2. the quickstart trains inline on the GPU, and its dev accuracy is within 0.02 of the same
   run on the CPU (kernels differ in the last bits, so weights are not bitwise equal);
3. the Ray backend packs 4 client actors on one GPU (`run.client_gpus = 0.25`) and finishes;
4. seconds per local step, CPU vs GPU, for the classify CNN on fashion-mnist.
Prints one JSON object and exits 1 if a check fails. On a machine without a GPU it says so
and exits 0. Usage (after `make setup` with a CUDA build of torch 2.13):

    .venv/bin/python benchmarks/gpu_check.py [--out benchmarks/results/gpu_check.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from fedsim.quiet import quiet_environment

quiet_environment(FEDSIM_NO_PROGRESS="1")

import torch  # noqa: E402

from fedsim.config import load_config  # noqa: E402
from fedsim.data import load_federated_data  # noqa: E402
from fedsim.engine.app_config import resolve_device  # noqa: E402
from fedsim.engine.run import run as fedsim_run  # noqa: E402
from fedsim.engine.seeding import client_generator  # noqa: E402
from fedsim.tasks import build_task  # noqa: E402


def quickstart(runs: Path, *overrides: str) -> dict:
    """The quickstart's final dev metrics and wall time under `overrides`."""
    cfg = load_config(None, [f"run.runs_dir={runs}", "run.rounds=5", *overrides])
    _, summary = fedsim_run(cfg)
    return {"dev": summary["final"]["dev"], "wall_s": summary["wall_seconds"]}


def seconds_per_step(device: str, steps: int = 50) -> float:
    """Local SGD seconds per step of the fashion-mnist CNN (batch 64) on `device`."""
    cfg = load_config(None, ["data.dataset=fashion-mnist", "client.batch_size=64",
                             f"client.local_steps={steps}", f"run.device={device}"])  # fmt: skip
    data = load_federated_data(cfg.data, cfg.run.seed)
    task = build_task(cfg, data)
    model = task.build_model().to(device)
    shard = data.train
    task.train(model, shard, cfg.client, client_generator(0, 1, 0))  # warm-up (kernels, cache)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    task.train(model, shard, cfg.client, client_generator(0, 2, 0))
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"gpu": False, "note": "torch sees no CUDA device: nothing checked"}))
        return 0
    out: dict = {"gpu": torch.cuda.get_device_name(0), "auto": str(resolve_device("auto"))}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        out["cpu"] = quickstart(runs, "run.device=cpu")
        out["cuda_inline"] = quickstart(runs, "run.device=cuda")
        out["cuda_ray"] = quickstart(runs, "run.device=cuda", "run.backend=ray",
                                     "run.client_gpus=0.25")  # fmt: skip
    out["step_s"] = {"cpu": seconds_per_step("cpu"), "cuda": seconds_per_step("cuda")}
    gap = abs(out["cpu"]["dev"]["accuracy"] - out["cuda_inline"]["dev"]["accuracy"])
    out["checks"] = {"auto_is_cuda": out["auto"] == "cuda", "cpu_gpu_accuracy_gap": gap,
                     "gap_ok": gap <= 0.02, "ray_finished": "accuracy" in out["cuda_ray"]["dev"]}
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    checks = out["checks"]
    return 0 if checks["auto_is_cuda"] and checks["gap_ok"] and checks["ray_finished"] else 1


if __name__ == "__main__":
    sys.exit(main())
