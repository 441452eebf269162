"""A sweep pays Ray's start-up once (issue #9): a 20-cell `fedsim sweep` on the ray backend.

The cells are the bench job (engine_overhead.JOB, 2 rounds) with 20 seeds, run by
`fedsim.sweep.runner.run_sweep` in this process, as the `fedsim sweep` command runs them.
`ray.init` calls are counted; each cell's federation seconds come from its summary.json.
The first cell starts Ray and the actors; the rest reuse the live pool. A script, not a test.

    .venv/bin/python benchmarks/sweep_startup.py [--cells 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_io import save_and_print
from engine_overhead import JOB  # noqa: E402

from fedsim.quiet import quiet_environment  # noqa: E402

quiet_environment(FEDSIM_NO_PROGRESS="1")


def spec_text(cells: int) -> str:
    """A sweep spec: the bench job on ray, 2 rounds, `cells` seeds."""
    sets = [*JOB, "strategy.federated_eval=false", "run.backend=ray", "run.rounds=2"]
    quoted = ", ".join(json.dumps(s) for s in sets)
    return f'[sweep]\nname = "bench-sweep"\nseeds = {list(range(cells))}\nset = [{quoted}]\n'


def measure(cells: int, tmp: Path) -> dict[str, Any]:
    """Run the sweep; count ray.init calls; per-cell federation seconds."""
    import ray

    from fedsim.sweep.runner import run_sweep

    calls = []
    init = ray.init
    ray.init = lambda *a, **k: calls.append(1) or init(*a, **k)  # type: ignore[assignment]
    spec = tmp / "sweep.toml"
    spec.write_text(spec_text(cells), encoding="utf-8")
    start = time.perf_counter()
    try:
        sweep_dir = run_sweep(spec, (), tmp / "sweeps")
    finally:
        ray.init = init  # type: ignore[assignment]
    total = time.perf_counter() - start
    summaries = sorted((sweep_dir / "cells").glob("*/*/summary.json"),
                       key=lambda p: p.stat().st_mtime)  # in the order the cells ran
    walls = [json.loads(p.read_text())["wall_seconds"] for p in summaries]
    first, rest = walls[0], walls[1:]  # the first cell started the actors
    return {"cells": len(walls), "ray_init_calls": len(calls), "sweep_s": total,
            "first_cell_federation_s": first,
            "other_cells_federation_s_median": statistics.median(rest) if rest else None,
            "other_cells_federation_s_max": max(rest) if rest else None}  # fmt: skip


def markdown(r: dict[str, Any]) -> str:
    """One-row table."""
    return ("| cells | ray.init calls | whole sweep s | first cell federation s | "
            "other cells, median s | other cells, max s |\n|---|---|---|---|---|---|\n"
            f"| {r['cells']} | {r['ray_init_calls']} | {r['sweep_s']:.1f} | "
            f"{r['first_cell_federation_s']:.2f} | {r['other_cells_federation_s_median']:.2f} | "
            f"{r['other_cells_federation_s_max']:.2f} |")


def main() -> None:
    """Measure, print markdown, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "sweep.json")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fedsim-sweep-") as tmp:
        result = measure(args.cells, Path(tmp))
    save_and_print(args.out, result, markdown(result), load)


if __name__ == "__main__":
    main()
