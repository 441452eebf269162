"""Per-step cost of record-level DP-SGD (Opacus hooks) against plain local SGD, per model.

For each case: one client shard, the task's own `train` with `client.local_steps` steps,
once plainly and once inside a record-level DP session (Poisson batches of the same expected
size, per-example gradients, clipping, noise), alternating, `--repeats` times; the median
seconds per step of each and their ratio are printed and written as JSON. One torch thread,
as a client gets. Wall time: the load average is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from fedsim.config import Config, load_config
from fedsim.data import ArrayDataset, load_federated_data
from fedsim.engine.seeding import client_generator
from fedsim.privacy.active import record_dp_session
from fedsim.privacy.models import build_model
from fedsim.privacy.record import RecordLevelDP
from fedsim.quiet import quiet_environment
from fedsim.tasks import build_task
from fedsim.validation import prepare

ONE_CLIENT = ["data.num_clients=1", "data.partitioner=iid", "privacy.mode=record"]
CASES = {
    "cnn (classify, fashion-mnist 28x28)": [
        "task.name=classify", "task.model=cnn", "data.dataset=fashion-mnist",
        "client.batch_size=64"],
    "gpt2 (nextword, fortunes, 2 layers, width 64, 32 tokens)": [
        "task.name=nextword", "data.dataset=fortunes", "task.model=gpt2", "task.width=64",
        "task.vocab_size=2000", "task.seq_len=32", "client.batch_size=32"],
    "unet (diffusion, digits 8x8, width 16)": [
        "task.name=diffusion", "task.width=16", "data.dataset=digits", "client.batch_size=32"],
}  # fmt: skip


def seconds_per_step(cfg: Config, private: bool, steps: int) -> float:
    """Wall seconds per step of one round of `task.train` (DP-SGD when `private`)."""
    data = load_federated_data(cfg.data, cfg.run.seed)
    task = build_task(cfg, data)
    model = build_model(task, cfg)
    shard = ArrayDataset(data.train.x[data.partitions[0]], data.train.y[data.partitions[0]])
    generator = client_generator(cfg.run.seed, 1, 0)
    start = time.perf_counter()
    if private:
        with record_dp_session(RecordLevelDP(cfg, [], None)):
            task.train(model, shard, cfg.client, generator)
    else:
        task.train(model, shard, cfg.client, generator)
    return (time.perf_counter() - start) / steps


def measure(overrides: list[str], steps: int, repeats: int) -> dict[str, float]:
    """Median plain and DP seconds per step (after one warm-up round of each)."""
    cfg = prepare(load_config(None, [*ONE_CLIENT, *overrides, f"client.local_steps={steps}"]))
    for private in (False, True):
        seconds_per_step(cfg, private, steps)  # warm-up: imports, caches, first optimizer
    plain, dp = [], []
    for _ in range(repeats):
        plain.append(seconds_per_step(cfg, False, steps))
        dp.append(seconds_per_step(cfg, True, steps))
    p, d = statistics.median(plain), statistics.median(dp)
    return {"plain_ms_per_step": 1e3 * p, "dp_ms_per_step": 1e3 * d, "ratio": d / p}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--out", default="benchmarks/results/dp_overhead.json")
    args = parser.parse_args()
    quiet_environment(FEDSIM_NO_PROGRESS="1")
    torch.set_num_threads(1)
    results = {"load_before": os.getloadavg(), "steps": args.steps, "repeats": args.repeats}
    for name, overrides in CASES.items():
        if args.only in name:
            results[name] = measure(overrides, args.steps, args.repeats)
            r = results[name]
            print(f"{name}: plain {r['plain_ms_per_step']:.1f} ms/step, DP "
                  f"{r['dp_ms_per_step']:.1f} ms/step, x{r['ratio']:.2f}", flush=True)
    results["load_after"] = os.getloadavg()
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
