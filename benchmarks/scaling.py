"""Engine overhead as the round grows and as the model grows (issue #9 (b) and (f)).

(b) clients per round 10 / 100 / 1000 (fashion-mnist, MLP, one local step each, inline):
    per-round overhead = round wall - sum of client handler seconds; engine overhead = that
    minus the server's central dev evaluation (`eval_seconds` in metrics.jsonl).
(f) model size 0.01M-10M parameters (fashion-mnist MLP widths 3 / 30 / 300 / 3200, 10
    clients x 5 local steps): overhead as a share of the round, i.e. where it stops mattering.
Medians over steady rounds (round >= 2). A script, not a test. Prints markdown, writes JSON.

    .venv/bin/python benchmarks/scaling.py [--out PATH] [--per-round 10 100 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from fedsim.quiet import quiet_environment

quiet_environment(FEDSIM_NO_PROGRESS="1")

from fedsim.config import load_config  # noqa: E402
from fedsim.data import load_federated_data  # noqa: E402
from fedsim.engine.run import run as fedsim_run  # noqa: E402
from fedsim.tasks import build_task  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "scaling.json"
BASE = ("data.dataset=fashion-mnist", "data.partitioner=iid", "task.model=mlp",
        "strategy.federated_eval=false", "client.batch_size=32", "run.rounds=4")  # fmt: skip


def measure(runs: Path, name: str, *overrides: str) -> dict[str, float]:
    """Median steady round, client seconds and engine overhead (ms) of one inline run."""
    cfg = load_config(None, [*BASE, *overrides, f"run.runs_dir={runs}", f"run.name={name}"])
    run_dir, _ = fedsim_run(cfg)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steady = [r for r in rows if r["round"] >= 2]
    rounds = [r["round_seconds"] for r in steady]
    clients = [sum(float(c["seconds"]) for c in r["clients"]) for r in steady]
    params = sum(p.numel() for p in build_task(cfg, load_federated_data(cfg.data, 0))
                 .build_model().parameters())  # fmt: skip
    evals = [float(r.get("eval_seconds", 0.0)) for r in steady]  # the server's dev evaluation
    round_ms, client_ms = 1000 * statistics.median(rounds), 1000 * statistics.median(clients)
    overhead = statistics.median(a - b for a, b in zip(rounds, clients, strict=True))
    engine = statistics.median(a - b - c for a, b, c in zip(rounds, clients, evals, strict=True))
    return {"params": params, "round_ms": round_ms, "client_ms": client_ms,
            "overhead_ms": 1000 * overhead, "eval_ms": 1000 * statistics.median(evals),
            "engine_ms": 1000 * engine}  # fmt: skip


def per_round_table(runs: Path, sizes: list[int]) -> list[dict[str, float]]:
    """(b): overhead for `sizes` clients per round (population = the same number)."""
    return [{"clients": n, **measure(runs, f"b{n}", f"data.num_clients={n}",
                                     "client.local_steps=1")} for n in sizes]  # fmt: skip


def model_size_table(runs: Path, widths: tuple[int, ...] = (3, 30, 300, 3200)) -> list[dict]:
    """(f): overhead share for MLPs of growing width (10 clients x 5 local steps)."""
    return [{"width": w, **measure(runs, f"f{w}", "data.num_clients=10", "client.local_steps=5",
                                   f"task.width={w}")} for w in widths]  # fmt: skip


def markdown(b: list[dict], f: list[dict]) -> str:
    """Both tables as markdown (either may be empty)."""
    lines = ["| clients per round | round ms | client ms | overhead ms | server dev eval ms | "
             "engine ms (overhead - eval) | engine per client ms |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['clients']} | {r['round_ms']:.1f} | {r['client_ms']:.1f} | "
              f"{r['overhead_ms']:.1f} | {r['eval_ms']:.1f} | {r['engine_ms']:.1f} | "
              f"{r['engine_ms'] / r['clients']:.2f} |" for r in b]
    lines += ["", "| parameters | round ms | overhead ms | server dev eval ms | overhead share | "
              "engine share (minus eval) |", "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['params']:,} | {r['round_ms']:.1f} | {r['overhead_ms']:.1f} | "
              f"{r['eval_ms']:.1f} | {r['overhead_ms'] / r['round_ms']:.1%} | "
              f"{r['engine_ms'] / r['round_ms']:.1%} |" for r in f]
    return "\n".join(lines)


def main() -> None:
    """Measure both tables, print markdown, write JSON with the load average."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--per-round", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fedsim-scaling-") as tmp:
        b = per_round_table(Path(tmp), args.per_round)
        f = model_size_table(Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clients_per_round": b, "model_size": f,
                                    "load": os.getloadavg()}, indent=1) + "\n")  # fmt: skip
    print(markdown(b, f))


if __name__ == "__main__":
    main()
