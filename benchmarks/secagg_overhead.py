"""SecAgg+ overhead: per-round wall time with and without SecAgg+ for 10 and 50 clients.

A tiny job (digits, the 4,810-parameter MLP, one local SGD step of 8 examples per client,
no federated evaluation) so that what SecAgg+ adds (key agreement, Shamir shares,
masking, unmasking: four exchanges per round instead of one) dominates the round. Every
run is inline in this process. Prints a markdown table and writes it, with the raw
numbers, as JSON. A script, not a test: nothing asserts on time.

    .venv/bin/python benchmarks/secagg_overhead.py [--clients 10 50] [--rounds 5]
        [--repeats 2] [--out PATH]

See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from fedsim.quiet import quiet_environment  # noqa: E402  (nothing heavy: before torch)

quiet_environment(FEDSIM_NO_PROGRESS="1")

from fedsim.config import load_config  # noqa: E402
from fedsim.engine.run import run as fedsim_run  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "secagg_overhead.json"
JOB = ("task.model=mlp", "data.partitioner=iid", "client.local_steps=1",
       "client.batch_size=8", "strategy.federated_eval=false")
STEADY_FROM_ROUND = 2  # round 1 pays first-message costs (imports, model builds)


def _rounds(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if row["round"] >= STEADY_FROM_ROUND]


def measure(clients: int, rounds: int, secagg: bool, runs_dir: Path) -> dict[str, Any]:
    """One run; median steady-state round time, client time and bytes per round."""
    cfg = load_config(None, [*JOB, f"data.num_clients={clients}", f"run.rounds={rounds}",
                             f"secagg.enabled={str(secagg).lower()}",
                             f'run.runs_dir="{runs_dir}"'])
    run_dir, summary = fedsim_run(cfg)
    rows = _rounds(run_dir)
    return {
        "clients": clients,
        "secagg": secagg,
        "round_s": statistics.median(r["round_seconds"] for r in rows),
        "client_s": statistics.median(sum(c["seconds"] for c in r["clients"]) for r in rows),
        "bytes_per_round": statistics.median(
            r["bytes"]["sent"] + r["bytes"]["received"] for r in rows),
        "failures": summary["failures"],
        "quantization_error_bound": (summary.get("secagg") or {}).get(
            "quantization_error_bound"),
    }


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: per client count, plain vs SecAgg+ round time and traffic (best repeat)."""
    lines = ["| clients | plain ms/round | SecAgg+ ms/round | overhead ms/round | "
             "overhead ms/client | plain kB/round | SecAgg+ kB/round |",
             "|---|---|---|---|---|---|---|"]
    for n in sorted({r["clients"] for r in results}):
        best = {flag: min((r for r in results if r["clients"] == n and r["secagg"] == flag),
                          key=lambda r: r["round_s"]) for flag in (False, True)}
        plain, masked = best[False], best[True]
        extra = masked["round_s"] - plain["round_s"]
        lines.append(
            f"| {n} | {plain['round_s'] * 1e3:.0f} | {masked['round_s'] * 1e3:.0f} | "
            f"{extra * 1e3:.0f} | {extra * 1e3 / n:.1f} | "
            f"{plain['bytes_per_round'] / 1e3:.0f} | {masked['bytes_per_round'] / 1e3:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for clients in args.clients:
                for secagg in (False, True):
                    results.append(measure(clients, args.rounds, secagg, Path(tmp)))
    load_after = os.getloadavg()
    text = table(results)
    print(text)
    print(f"load average before {load_before}, after {load_after}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"job": JOB, "rounds": args.rounds, "results": results,
                                    "table": text, "load_before": load_before,
                                    "load_after": load_after}, indent=2))


if __name__ == "__main__":
    main()
