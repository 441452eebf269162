"""CPU cost of the diffusion task: seconds per local step of the default UNet, and DDPM-T vs
DDIM sampling time and quality.

    python benchmarks/diffusion_cost.py                  # s/step at batch 32 and 64
    python benchmarks/diffusion_cost.py RUN_DIR --samples 16
                                                         # + DDPM-1000 vs DDIM-50 on RUN_DIR's
                                                         #   final weights (its config)

One torch thread, as a client gets (CPU time and wall time are both printed; on a shared
machine wall time depends on the load average, printed too). Writes nothing into RUN_DIR.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from fedsim.config import config_from_toml, load_config
from fedsim.data import load_federated_data
from fedsim.tasks import build_task
from fedsim.tasks.diffusion_outputs import compare_samplers
from fedsim.validation import prepare


def step_seconds(task: object, batch: int, steps: int = 5) -> tuple[float, float]:
    """(wall, CPU) seconds per Adam step of the task's loss at `batch` (after one warm-up)."""
    torch.manual_seed(0)
    model = task.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.tensor(task.data.train.x[:batch])
    y = torch.tensor(task.data.train.y[:batch])
    for i in range(steps + 1):
        if i == 1:
            wall, cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad()
        task.batch_loss(model, x, y).backward()
        optimizer.step()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", help="a finished diffusion run (sampler table)")
    parser.add_argument("--samples", type=int, default=16, help="images per sampler")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average: {os.getloadavg()}")
    if args.run_dir is None:
        cfg = prepare(load_config("experiments/diffusion_fashion.toml"))
    else:
        cfg = config_from_toml((Path(args.run_dir) / "config.toml").read_text())
    task = build_task(cfg, load_federated_data(cfg.data, cfg.run.seed))
    if args.run_dir is None:
        for batch in (32, 64):
            wall, cpu = step_seconds(task, batch)
            print(f"width {cfg.task.width}, batch {batch}: {wall:.3f} s/step wall, "
                  f"{cpu:.3f} s/step CPU")
        return
    model = task.build_model()
    model.load_state_dict(load_file(str(Path(args.run_dir) / "weights.safetensors")))
    with tempfile.TemporaryDirectory() as out:
        compare_samplers(task, model, Path(out), args.samples)
        print((Path(out) / "samplers.md").read_text())
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
