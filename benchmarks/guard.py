"""The engine-overhead regression guard: per-round engine overhead as a ratio to compute.

Quick mode of the benchmark, small enough for CI. One process runs the bench job (digits,
MLP, 10 clients x 5 rounds x 6 local steps, inline, no federated evaluation) and, right
after, the same per-round SGD work as a plain torch loop. The guarded number is

    overhead ratio = median steady-round engine overhead / plain-loop time of one round,

dimensionless, so a slower or busier machine moves both terms together. `BASELINE` holds the
ratio recorded when the guard was written; tests/test_bench_guard.py fails when today's
ratio exceeds GUARD_FACTOR x BASELINE (issue #9: "3x its recorded baseline, a ratio").

    .venv/bin/python benchmarks/guard.py      # prints the ratio and its parts
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fedsim.quiet import quiet_environment

quiet_environment(FEDSIM_NO_PROGRESS="1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from fedsim.config import Config, load_config  # noqa: E402
from fedsim.data import load_federated_data  # noqa: E402
from fedsim.engine.run import run as fedsim_run  # noqa: E402
from fedsim.tasks import build_task  # noqa: E402

BASELINE_FILE = Path(__file__).resolve().parent / "guard_baseline.json"
GUARD_FACTOR = 3.0
JOB = ("task.model=mlp", "data.partitioner=iid", "data.num_clients=10", "run.rounds=5",
       "client.local_steps=6", "client.batch_size=32", "strategy.federated_eval=false")  # fmt: skip
STEADY_FROM_ROUND = 2


def _config(runs_dir: Path) -> Config:
    return load_config(None, [*JOB, f"run.runs_dir={runs_dir}", "run.name=guard"])


def round_overheads(cfg: Config) -> list[float]:
    """Seconds per steady round not spent inside client handlers (one inline run)."""
    run_dir, _ = fedsim_run(cfg)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [
        r["round_seconds"] - sum(float(c["seconds"]) for c in r["clients"])
        for r in rows
        if r["round"] >= STEADY_FROM_ROUND
    ]


def plain_round_seconds(cfg: Config, repeats: int = 6) -> float:
    """Median time of one round's SGD work (clients x local steps) as a plain torch loop,
    after one untimed round (the first optimizer step and kernels warm up)."""
    data = load_federated_data(cfg.data, cfg.run.seed)
    x, y = torch.tensor(data.train.x), torch.tensor(data.train.y)
    model = build_task(cfg, data).build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.client.lr)
    steps, size = cfg.data.num_clients * cfg.client.local_steps, cfg.client.batch_size
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for step in range(steps):
            lo = (step * size) % (len(x) - size)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[lo : lo + size]), y[lo : lo + size]).backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def overhead_ratio(runs: int = 3) -> dict[str, float]:
    """Median engine overhead per round, one plain round, and their ratio."""
    torch.set_num_threads(1)  # what each client gets (run.client_cpus = 1)
    with tempfile.TemporaryDirectory(prefix="fedsim-guard-") as tmp:
        cfg = _config(Path(tmp))
        overheads = [o for _ in range(runs) for o in round_overheads(cfg)]
        plain = plain_round_seconds(cfg)
    overhead = statistics.median(overheads)
    return {"overhead_ms": 1000 * overhead, "plain_round_ms": 1000 * plain,
            "ratio": overhead / plain}  # fmt: skip


def baseline() -> float:
    """The recorded ratio."""
    return float(json.loads(BASELINE_FILE.read_text())["ratio"])


if __name__ == "__main__":
    measured = overhead_ratio()
    print(json.dumps({**measured, "baseline": baseline(), "limit": GUARD_FACTOR * baseline()}))
    if "--record" in sys.argv:
        BASELINE_FILE.write_text(json.dumps(measured, indent=1) + "\n")
