"""Simulation efficiency of the Ray backend on the default experiments (issue #9, target >= 0.9).

efficiency = sum of client compute / (wall x workers), where client compute is every
client's own `seconds` (its handler: load weights, train or evaluate, build the reply) and
workers is the size of the actor pool. Two walls are reported per run, from metrics.jsonl:

- steady: the rounds from round 2 on (round 1 also starts the actors: process start,
  `import torch`, the ClientApp),
- federation: every round, including round 1's actor start-up.

Each round's wall includes the server's central dev evaluation (`eval_seconds`, while the
actors wait); `steady, without server eval` leaves it out. `cap from server eval` is the most
any engine could reach with that evaluation in the round, no other overhead and perfect
balance: client seconds / (client seconds + workers x eval seconds), since the actors (one a
core) idle while the server evaluates on those cores. Runs the experiments as they are
(`experiments/quickstart.toml`: classify, 10 non-IID clients; `experiments/nextword_kjv.toml`:
GPT-2 on 60 books, 10 per round, with federated evaluation) with `run.backend=ray` and
`--rounds` rounds. A script, not a test.

    .venv/bin/python benchmarks/efficiency.py [--rounds 5] [--only quickstart]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench_io import measure_and_save

from fedsim.quiet import quiet_environment

quiet_environment(FEDSIM_NO_PROGRESS="1")

from fedsim.config import load_config  # noqa: E402
from fedsim.engine.run import run as fedsim_run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "efficiency.json"
EXPERIMENTS = {"classify (quickstart)": "experiments/quickstart.toml",
               "nextword (nextword_kjv)": "experiments/nextword_kjv.toml"}  # fmt: skip


def pool_size(cfg: Any) -> int:
    """Actors the Ray executor starts: one per `client_cpus` CPUs, at most one per client."""
    cpus = cfg.run.num_cpus or os.cpu_count() or 1
    return max(1, min(cfg.data.num_clients, cpus // cfg.run.client_cpus))


def efficiency(rows: list[dict[str, Any]], workers: int, without_eval: bool = False) -> float:
    """Sum of client seconds / (sum of round walls x workers) over `rows`."""
    client = sum(float(c["seconds"]) for r in rows for c in r["clients"])
    wall = sum(r["round_seconds"] - (r.get("eval_seconds", 0.0) if without_eval else 0.0)
               for r in rows)  # fmt: skip
    return client / (wall * workers) if wall > 0 else float("nan")


def eval_cap(rows: list[dict[str, Any]], workers: int) -> float:
    """Client seconds / (client seconds + workers x the server's eval seconds) over `rows`."""
    client = sum(float(c["seconds"]) for r in rows for c in r["clients"])
    evaluating = sum(float(r.get("eval_seconds", 0.0)) for r in rows)
    total = client + workers * evaluating
    return client / total if total > 0 else float("nan")


def measure(name: str, path: str, rounds: int, runs_dir: Path) -> dict[str, Any]:
    """One Ray run of the experiment at `path`; its efficiencies and walls."""
    cfg = load_config(ROOT / path, ["run.backend=ray", f"run.rounds={rounds}",
                                    f"run.runs_dir={runs_dir}"])  # fmt: skip
    run_dir, summary = fedsim_run(cfg)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    rows = [r for r in map(json.loads, lines) if r["round"] > 0]
    steady = [r for r in rows if r["round"] >= 2]
    workers = pool_size(cfg)
    return {
        "experiment": name,
        "file": path,
        "rounds": rounds,
        "workers": workers,
        "clients_per_round": len(rows[-1]["clients"]),
        "steady_efficiency": efficiency(steady, workers),
        "steady_efficiency_without_server_eval": efficiency(steady, workers, True),
        "steady_cap_from_server_eval": eval_cap(steady, workers),
        "federation_efficiency": efficiency(rows, workers),
        "federation_s": summary["wall_seconds"],
        "round1_s": rows[0]["round_seconds"],
        "steady_round_s": sum(r["round_seconds"] for r in steady) / max(len(steady), 1),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    lines = ["| experiment (ray) | workers | steady efficiency | without server eval | "
             "cap from server eval | whole federation | steady round s | round 1 s |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['experiment']} | {r['workers']} | {r['steady_efficiency']:.3f} | "
              f"{r['steady_efficiency_without_server_eval']:.3f} | "
              f"{r['steady_cap_from_server_eval']:.3f} | "
              f"{r['federation_efficiency']:.3f} | {r['steady_round_s']:.3f} | "
              f"{r['round1_s']:.2f} |" for r in results]  # fmt: skip
    return "\n".join(lines)


def run_all(rounds: int, only: str = "") -> list[dict[str, Any]]:
    """Every experiment whose name contains `only`, in one process (one Ray start)."""
    with tempfile.TemporaryDirectory(prefix="fedsim-efficiency-") as tmp:
        return [measure(name, path, rounds, Path(tmp))
                for name, path in EXPERIMENTS.items() if only in name]  # fmt: skip


def main() -> None:
    """Measure, print markdown, write JSON with the load average."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    measure_and_save(args.out, lambda: run_all(args.rounds, args.only), markdown)


if __name__ == "__main__":
    main()
