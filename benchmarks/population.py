"""Population scale: memory and round time with 10 / 10k / 100k registered clients.

Each population runs in its own process (peak RSS is per process): `fedsim run` on the
generated `toy-1d-400k` set (400,000 scalar points, so 100k clients get 2-3 each), IID,
the `mlp` model, 2 local steps, `--per-round` clients sampled per round (the same client work
per round whatever the population). Reports peak RSS, the extra memory
over the 10-client run, start-up to round 0, and the median round time from metrics.jsonl.
A script, not a test: nothing here asserts on time or memory.

    .venv/bin/python benchmarks/population.py [--clients 10 10000 100000] [--per-round 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "population.json"
CHILD = """
import json, resource, sys, time
from fedsim.quiet import quiet_environment
quiet_environment(FEDSIM_NO_PROGRESS="1")
from fedsim.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
def peak_kb():
    # VmHWM: this process image's peak; ru_maxrss survives exec, so a child of a big
    # parent (benchmarks/bench.py) would report the parent's peak
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak_kb = peak_kb()
print("RESULT " + json.dumps({"code": code, "peak_mb": peak_kb / 1024,
                              "total_s": time.perf_counter() - start}))
"""


def run_population(clients: int, per_round: int, rounds: int, runs_dir: Path) -> dict[str, Any]:
    """One `fedsim run` of `clients` registered clients in a fresh process; its numbers."""
    name = f"pop{clients}"
    args = ["run", "--set", "data.dataset=toy-1d-400k", "--set", f"data.num_clients={clients}",
            "--set", f"strategy.clients_per_round={per_round}", "--set", f"run.rounds={rounds}",
            "--set", "data.partitioner=iid", "--set", "task.model=mlp",
            "--set", "client.local_steps=2",
            "--set", f"run.runs_dir={runs_dir}", "--set", f"run.name={name}"]  # fmt: skip
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                         env={**os.environ, "FEDSIM_NO_PROGRESS": "1"}, check=True)  # fmt: skip
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    run_dir = next(runs_dir.glob(f"{name}-*"))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steady = [r["round_seconds"] for r in rows if r["round"] >= 2]
    return {
        "clients": clients,
        "per_round": per_round,
        "peak_mb": round(result["peak_mb"], 1),
        "start_to_round0_s": round(rows[0]["wall_seconds"], 2),
        "round_s_median": round(statistics.median(steady), 3) if steady else None,
        "total_s": round(result["total_s"], 1),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a markdown table, with extra memory over the smallest population."""
    base = results[0]["peak_mb"]
    lines = ["| registered clients | per round | peak RSS (MB) | extra vs first (MB) | "
             "serve start to round 0 (s) | round (s, median) | whole run (s) |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r['clients']:,} | {r['per_round']} | {r['peak_mb']:.0f} | "
                     f"{r['peak_mb'] - base:+.0f} | {r['start_to_round0_s']} | "
                     f"{r['round_s_median']} | {r['total_s']} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    """Measure every population and write JSON + print the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 10_000, 100_000])
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        results = [run_population(n, args.per_round, args.rounds, Path(runs)) for n in args.clients]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "load": os.getloadavg()}, indent=1))
    print(markdown(results))


if __name__ == "__main__":
    main()
