"""Utility cost of record-level DP: final metrics at target epsilon 1, 4, 8 against the
same run without DP, for a small classify and a small next-word federation.

Each cell is one `fedsim run` (inline); the noise multiplier is solved per client for its
planned participation. Prints a markdown table and writes JSON. Minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from fedsim.config import load_config
from fedsim.engine.run import run
from fedsim.quiet import quiet_environment

EPSILONS = (1.0, 4.0, 8.0)
COMMON = ["data.partitioner=iid", "strategy.federated_eval=false", "privacy.max_grad_norm=1.0"]
SETUPS = {
    "classify": ("accuracy", [
        "task.name=classify", "task.model=mlp", "data.dataset=fashion-mnist",
        "data.num_clients=10", "run.rounds=10", "client.local_steps=20", "client.batch_size=64",
        "client.lr=0.1"]),
    "nextword": ("perplexity", [
        "task.name=nextword", "data.dataset=fortunes", "task.model=gpt2", "task.width=32",
        "task.vocab_size=1000", "task.seq_len=16", "data.num_clients=5", "run.rounds=5",
        "client.local_steps=10", "client.batch_size=32", "client.optimizer=adam",
        "client.lr=0.005"]),
}  # fmt: skip


def cell(overrides: list[str], runs_dir: str) -> dict[str, Any]:
    """One run's final metrics, epsilon and noise."""
    started = time.perf_counter()
    _, summary = run(load_config(None, [*overrides, f'run.runs_dir="{runs_dir}"']))
    privacy = summary["privacy"]
    noises = [c["noise_multiplier"] for c in (privacy.get("per_client") or {}).values()]
    return {"test": summary["final"]["test"], "epsilon": privacy["epsilon"],
            "noise": (min(noises), max(noises)) if noises else None,
            "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="classify or nextword")
    parser.add_argument("--out", default="benchmarks/results/dp_utility.json")
    args = parser.parse_args()
    quiet_environment(FEDSIM_NO_PROGRESS="1")
    results: dict[str, Any] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as runs_dir:
        for name, (metric, overrides) in SETUPS.items():
            if args.only not in name:
                continue
            rows = {"none": cell([*COMMON, *overrides], runs_dir)}
            for eps in EPSILONS:
                rows[f"eps={eps:g}"] = cell([*COMMON, *overrides, "privacy.mode=record",
                                             f"privacy.target_epsilon={eps}"], runs_dir)
            results[name] = rows
            print(f"\n{name} (test {metric})\n\n| privacy | epsilon | noise | test {metric} | s |")
            print("|---|---|---|---|---|")
            for label, r in rows.items():
                noise = "-" if r["noise"] is None else f"{r['noise'][0]:.3g}-{r['noise'][1]:.3g}"
                print(f"| {label} | {r['epsilon'] or 0:.3f} | {noise} | "
                      f"{r['test'][metric]:.4f} | {r['seconds']:.0f} |", flush=True)
    results["load_after"] = os.getloadavg()
    print(f"\nload average before {results['load_before']}, after {results['load_after']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
