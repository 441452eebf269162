"""Start-up to the first round: a fresh `fedsim run` process, inline and ray (issue #9:
<= 3 s inline, <= 8 s ray; Flower + Ray here: 11-16 s).

Each backend runs the bench job (engine_overhead.JOB: digits, MLP, 10 clients x 5 rounds x 6
local steps) as `fedsim run` in a new Python process, so imports, data, Ray and the actors
all start cold. The child stamps the wall clock when each round is recorded; then

    start-up = (round 1 recorded - process spawned) - steady round time,

i.e. everything before round 1's own work: interpreter and imports, config, run directory,
data, model, round 0's evaluation, and on ray `ray.init` and the actors' start (paid while
round 1 waits). The steady round time is the median of rounds 2..5. A script, not a test.

    .venv/bin/python benchmarks/startup.py [--backends inline ray] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_io import measure_and_save  # noqa: E402
from engine_overhead import JOB  # noqa: E402

# Stamps each recorded round. It patches fedsim.tracking.rounds when the CLI first imports it
# (an import hook): importing it here would import torch and Flower before the CLI starts.
CHILD = """
import importlib.abc, importlib.util, json, sys, time
stamps = {}
def patch(rounds):
    log_round = rounds.RoundTracker.log_round
    def stamped(self, server_round, *args, **kwargs):
        row = log_round(self, server_round, *args, **kwargs)
        stamps.setdefault(server_round, time.time())
        return row
    rounds.RoundTracker.log_round = stamped
class Hook(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name != "fedsim.tracking.rounds":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        self.inner = spec.loader
        spec.loader = self
        return spec
    def create_module(self, spec):
        return self.inner.create_module(spec)
    def exec_module(self, module):
        self.inner.exec_module(module)
        patch(module)
sys.meta_path.insert(0, Hook())
from fedsim.cli import main
code = main(sys.argv[1:])
print("RESULT " + json.dumps({"code": code, "stamps": stamps, "end": time.time()}))
"""


def measure(backend: str, runs_dir: Path) -> dict[str, Any]:
    """One cold `fedsim run` of the bench job on `backend`; its start-up seconds."""
    sets = [*JOB, "strategy.federated_eval=false", f"run.backend={backend}",
            f"run.runs_dir={runs_dir}", f"run.name=startup-{backend}"]  # fmt: skip
    args = [a for s in sets for a in ("--set", s)]
    env = {**os.environ, "FEDSIM_NO_PROGRESS": "1"}
    spawned = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, "run", *args], capture_output=True,
                         text=True, env=env, check=True)  # fmt: skip
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    stamps = {int(k): v for k, v in result["stamps"].items()}
    steady = statistics.median(stamps[r] - stamps[r - 1] for r in range(2, max(stamps) + 1))
    return {"backend": backend, "startup_s": stamps[1] - spawned - steady,
            "to_round0_s": stamps[0] - spawned, "steady_round_s": steady,
            "process_s": result["end"] - spawned}  # fmt: skip


def run_all(backends: list[str], repeats: int) -> list[dict[str, Any]]:
    """`repeats` cold runs per backend, alternating."""
    with tempfile.TemporaryDirectory(prefix="fedsim-startup-") as tmp:
        return [measure(b, Path(tmp)) for _ in range(repeats) for b in backends]


def markdown(results: list[dict[str, Any]]) -> str:
    """One row per run."""
    lines = ["| backend | start-up to round 1 s | to round 0 recorded s | steady round s | "
             "whole process s |", "|---|---|---|---|---|"]
    lines += [f"| {r['backend']} | {r['startup_s']:.2f} | {r['to_round0_s']:.2f} | "
              f"{r['steady_round_s']:.3f} | {r['process_s']:.2f} |" for r in results]
    return "\n".join(lines)


def main() -> None:
    """Measure, print markdown, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["inline", "ray"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "startup.json")
    args = parser.parse_args()
    measure_and_save(args.out, lambda: run_all(args.backends, args.repeats), markdown)


if __name__ == "__main__":
    main()
