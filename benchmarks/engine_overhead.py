"""Engine overhead: one 10-client x 5-round digits job run several ways, in one process.

Ways: a plain torch loop doing the same 300 SGD steps (the lower bound), fedsim's engine
with the inline and the Ray executor (each with and without federated evaluation), and
Flower's own `run_simulation`. Prints a markdown table and writes it, with every raw
number, as JSON. A script, not a test: nothing here asserts on time.

    .venv/bin/python benchmarks/engine_overhead.py [--out PATH] [--repeats N] [--skip-flower]

See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fedsim.quiet import quiet_environment  # noqa: E402  (nothing heavy: before torch)

quiet_environment(FEDSIM_NO_PROGRESS="1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import fedsim.engine.ray_executor as ray_executor  # noqa: E402
import fedsim.engine.session as session  # noqa: E402
import fedsim.report as report  # noqa: E402
from fedsim.config import Config, load_config  # noqa: E402
from fedsim.data import load_federated_data  # noqa: E402
from fedsim.engine.run import run as fedsim_run  # noqa: E402
from fedsim.tasks import build_task  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "engine_overhead.json"
JOB = (
    "task.model=mlp",
    "data.partitioner=iid",
    "data.num_clients=10",
    "run.rounds=5",
    "client.local_steps=6",
    "client.batch_size=32",
)
TARGETS = {"overhead_ms": 10.0, "inline_total_s": 3.0, "ray_total_s": 8.0}
STEADY_FROM_ROUND = 2  # round 1 pays the clients' first-message costs (actor start-up)


@dataclass(frozen=True)
class Way:
    """One way to run the job: a fedsim backend, with or without federated evaluation."""

    name: str
    backend: str
    federated_eval: bool
    repeats: int


@dataclass
class Result:
    """Wall times of one run of one way (seconds unless the name says ms)."""

    way: str
    attempt: int
    total_s: float
    federation_s: float | None = None
    overhead_ms: float | None = None
    engine_ms: float | None = None  # overhead_ms minus the server's central dev evaluation
    overhead_method: str = ""
    round_s: list[float] = field(default_factory=list)
    client_critical_s: list[float] = field(default_factory=list)
    serve_s: float | None = None
    report_s: float | None = None
    ray_init_s: float | None = None
    ray_close_s: float | None = None  # shutdown_pool() after a Ray way's last run
    round1_excess_s: float | None = None


def job_config(backend: str, federated_eval: bool, runs_dir: Path, name: str) -> Config:
    """The benchmark job on `backend`, its run directory under `runs_dir`."""
    overrides = [
        *JOB,
        f"strategy.federated_eval={str(federated_eval).lower()}",
        f"run.backend={backend}",
        f"run.runs_dir={runs_dir}",
        f"run.name={name}",
    ]
    return load_config(None, overrides)


# --- the lower bound ------------------------------------------------------------------


def central_steps(cfg: Config) -> int:
    """SGD steps the federation takes in all: clients x rounds x local steps."""
    return cfg.data.num_clients * cfg.run.rounds * cfg.client.local_steps


def run_central(cfg: Config) -> Result:
    """The same number of SGD steps as the federation, in one plain torch loop.

    Same model class, batch size, optimizer settings and loss; the data set is loaded (and
    cached), and torch.optim imported, before the clock starts, as a warm federation has it.
    """
    data = load_federated_data(cfg.data, cfg.run.seed)
    torch.set_num_threads(cfg.run.client_cpus)  # what the engine gives each client
    x_all, y_all = torch.tensor(data.train.x), torch.tensor(data.train.y)
    generator = torch.Generator().manual_seed(cfg.run.seed)
    # The first torch.optim optimizer of a process imports torch._dynamo (~1.5 s): pay it
    # before the clock, like data loading (fedsim's clients no longer build one at all).
    torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
    start = time.perf_counter()
    model = build_task(cfg, data).build_model()
    c = cfg.client
    optimizer = torch.optim.SGD(
        model.parameters(), lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
    )
    model.train()
    order = torch.randperm(len(x_all), generator=generator)
    for step in range(central_steps(cfg)):
        lo = (step * c.batch_size) % len(x_all)
        if lo + c.batch_size > len(x_all):
            order, lo = torch.randperm(len(x_all), generator=generator), 0
        idx = order[lo : lo + c.batch_size]
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x_all[idx]), y_all[idx]).backward()
        optimizer.step()
    total = time.perf_counter() - start
    return Result("central", 1, total, federation_s=total)


# --- timing the phases of a fedsim run without touching engine code ---------------------


@contextmanager
def timed(owner: Any, attribute: str, log: dict[str, float]) -> Iterator[None]:
    """Replace `owner.attribute` by a wrapper adding its wall time to log[attribute]."""
    original: Callable[..., Any] = getattr(owner, attribute)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            log[attribute] = log.get(attribute, 0.0) + time.perf_counter() - start

    setattr(owner, attribute, wrapper)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


@contextmanager
def phase_timers(log: dict[str, float]) -> Iterator[None]:
    """Time serve(), write_report() and Ray start-up during a run."""
    with (
        timed(session, "serve", log),
        timed(report, "write_report", log),
        timed(ray_executor, "start_ray", log),
    ):
        yield


def close_ray() -> float:
    """Kill the live actor pool and stop Ray (what process exit does); its wall time."""
    start = time.perf_counter()
    ray_executor.shutdown_pool()
    return time.perf_counter() - start


# --- reading a run directory ----------------------------------------------------------


def read_rounds(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.jsonl rows of rounds 1.. (round 0 is the initial model)."""
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row["round"] > 0]


def critical_client_seconds(row: dict[str, Any], workers: int) -> float:
    """Client time on the round's critical path: the busiest worker's sum of `seconds`.

    Inline (one worker) this is the sum over clients; on the Ray executor each client's
    `worker` (the actor that ran it) is in metrics.jsonl. A round with both training and
    evaluation exchanges waits for the busiest worker of each.
    """
    busy: dict[tuple[str, int], float] = {}
    for client in row["clients"]:
        worker = int(client.get("worker", 0)) % workers
        key = (str(client.get("stage")), worker)
        busy[key] = busy.get(key, 0.0) + float(client["seconds"])
    stages = {stage for stage, _ in busy}
    return sum(max(v for (s, _), v in busy.items() if s == stage) for stage in stages)


def balanced_client_seconds(row: dict[str, Any], workers: int) -> float:
    """Client time on the critical path if `workers` share the clients perfectly evenly."""
    seconds = [float(c["seconds"]) for c in row["clients"]]
    return max(sum(seconds) / workers, max(seconds, default=0.0))


def workers_of(cfg: Config) -> int:
    """How many clients run at once: 1 inline, else one per `client_cpus` CPUs."""
    if cfg.run.backend == "inline":
        return 1
    cpus = cfg.run.num_cpus or os.cpu_count() or 1
    return max(1, min(cfg.data.num_clients, cpus // cfg.run.client_cpus))


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def fill_rounds(result: Result, cfg: Config, run_dir: Path) -> None:
    """Per-round wall, client critical path and the steady engine overhead from metrics.jsonl."""
    rows = read_rounds(run_dir)
    workers = workers_of(cfg)
    exact = cfg.run.backend != "flower"  # Flower's actor pool takes clients in any order
    client_time = critical_client_seconds if exact else balanced_client_seconds
    result.round_s = [float(r["round_seconds"]) for r in rows]
    result.client_critical_s = [client_time(r, workers) for r in rows]
    steady = [i for i, r in enumerate(rows) if r["round"] >= STEADY_FROM_ROUND]
    overhead = mean([result.round_s[i] - result.client_critical_s[i] for i in steady])
    result.overhead_ms = ms(overhead)
    evaluation = mean([float(rows[i].get("eval_seconds", 0.0)) for i in steady])
    result.engine_ms = ms(None if overhead is None or evaluation is None
                          else overhead - evaluation)
    steady_round = mean([result.round_s[i] for i in steady])
    if rows and steady_round is not None:
        result.round1_excess_s = result.round_s[0] - steady_round
    method = "sum of client seconds" if workers == 1 else f"critical path over {workers} workers"
    result.overhead_method = method if exact else f"estimate: {method}, evenly balanced"


def run_fedsim(way: Way, attempt: int, runs_dir: Path) -> Result:
    """One end-to-end `fedsim.engine.run.run` of `way`, timed whole and by phase."""
    cfg = job_config(way.backend, way.federated_eval, runs_dir, f"{way.name}-{attempt}")
    log: dict[str, float] = {}
    with phase_timers(log):
        start = time.perf_counter()
        run_dir, summary = fedsim_run(cfg)
        total = time.perf_counter() - start
    result = Result(way.name, attempt, total, federation_s=float(summary["wall_seconds"]))
    result.serve_s = log.get("serve")
    result.report_s = log.get("write_report")
    result.ray_init_s = log.get("start_ray")
    fill_rounds(result, cfg, run_dir)
    return result


# --- the table --------------------------------------------------------------------------


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: list[Result], central_s: float) -> str:
    """Markdown: way | total s | federation s | per-round overhead ms (with and without the
    server's dev evaluation) | ratio to central."""
    lines = [
        "| way | run | total s | federation s | per-round overhead ms | engine ms (minus "
        "server dev eval) | ratio to central |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        run = "warm" if r.attempt > 1 else ("cold" if r.way != "central" else "-")
        lines.append(
            f"| {r.way} | {run} | {fmt(r.total_s)} | {fmt(r.federation_s)} | "
            f"{fmt(r.overhead_ms, 1)} | {fmt(r.engine_ms, 1)} | {r.total_s / central_s:.1f}x |"
        )
    return "\n".join(lines)


def phases_table(results: list[Result]) -> str:
    """Markdown: where each fedsim run's time went."""
    lines = [
        "| way | run | serve s | after serve (report) s | Ray init s | round-1 excess s "
        "| Ray close s | steady round ms | client critical path ms | overhead method |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r.way == "central":
            continue
        mean_round = mean(r.round_s[STEADY_FROM_ROUND - 1 :])
        mean_clients = mean(r.client_critical_s[STEADY_FROM_ROUND - 1 :])
        lines.append(
            f"| {r.way} | {'warm' if r.attempt > 1 else 'cold'} | {fmt(r.serve_s)} | "
            f"{fmt(r.report_s)} | {fmt(r.ray_init_s)} | {fmt(r.round1_excess_s)} | "
            f"{fmt(r.ray_close_s)} | {fmt(ms(mean_round), 1)} | {fmt(ms(mean_clients), 1)} | "
            f"{r.overhead_method} |"
        )
    return "\n".join(lines)


def warm(results: list[Result], way: str) -> Result | None:
    """The last run of `way` (the warm one when it ran more than once)."""
    runs = [r for r in results if r.way == way]
    return runs[-1] if runs else None


def cold(results: list[Result], way: str) -> Result | None:
    """The first run of `way` (for Ray ways: the one that started Ray and the actors)."""
    runs = [r for r in results if r.way == way]
    return runs[0] if runs else None


def verdicts(results: list[Result]) -> dict[str, dict[str, Any]]:
    """Each target, its measurement, and whether it is met.

    Warm runs for the inline targets and the overheads; the first (cold) Ray run for the
    Ray total, which must include Ray's and the actors' start-up.
    """
    inline, ray = warm(results, "fedsim-inline"), warm(results, "fedsim-ray")
    ray_cold = cold(results, "fedsim-ray")
    checks: dict[str, tuple[float, float | None]] = {
        "inline per-round overhead ms <= 10": (
            TARGETS["overhead_ms"],
            inline and inline.overhead_ms,
        ),
        "ray per-round overhead ms <= 10": (TARGETS["overhead_ms"], ray and ray.overhead_ms),
        "inline total s < 3": (TARGETS["inline_total_s"], inline and inline.total_s),
        "ray total s < 8 (cold: incl. Ray start)": (
            TARGETS["ray_total_s"],
            ray_cold and ray_cold.total_s,
        ),
        "ray total s < 8 (warm: live actors)": (TARGETS["ray_total_s"], ray and ray.total_s),
    }
    return {
        name: {"target": target, "measured": value, "met": value is not None and value <= target}
        for name, (target, value) in checks.items()
    }


# --- orchestration ----------------------------------------------------------------------


def ways(repeats: int, skip_flower: bool) -> list[Way]:
    """Every way to run, in order; Flower's reference last (one run: it is the slowest)."""
    chosen = [
        Way("fedsim-inline", "inline", False, repeats),
        Way("fedsim-inline+fedeval", "inline", True, repeats),
        Way("fedsim-ray", "ray", False, repeats),
        Way("fedsim-ray+fedeval", "ray", True, repeats),
    ]
    if not skip_flower:
        chosen.append(Way("flower", "flower", False, 1))
    return chosen


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    import flwr
    import ray

    return {
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "flwr": flwr.__version__,
        "ray": ray.__version__,
        "torch_threads_per_client": 1,
    }


def profile_inline(runs_dir: Path, top: int) -> str:
    """cProfile of one warm inline run: the top functions by cumulative and by own time."""
    cfg = job_config("inline", False, runs_dir, "profile")
    fedsim_run(cfg)  # warm everything first
    profiler = cProfile.Profile()
    profiler.enable()
    fedsim_run(cfg)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def measure(repeats: int, skip_flower: bool, runs_dir: Path) -> list[Result]:
    """Run every way (`repeats` times for fedsim's), then the central loop."""
    results: list[Result] = []
    for way in ways(repeats, skip_flower):
        for attempt in range(1, way.repeats + 1):
            result = run_fedsim(way, attempt, runs_dir)
            print(f"  {way.name} #{attempt}: {result.total_s:.2f} s", flush=True)
            results.append(result)
        if way.backend == "ray":  # the next way starts cold again: a fresh Ray and pool
            results[-1].ray_close_s = close_ray()
    # Last, so the first fedsim run pays data loading as a cold CLI run would.
    central = run_central(job_config("inline", False, runs_dir, "central"))
    return [central, *results]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per fedsim way; the last is reported"
    )
    parser.add_argument("--skip-flower", action="store_true", help="leave out run_simulation")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="also cProfile a warm inline run"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    steps = central_steps(job_config("inline", False, Path(tempfile.gettempdir()), "steps"))
    load_before = os.getloadavg()
    print(f"load average before: {load_before}", flush=True)
    with tempfile.TemporaryDirectory(prefix="fedsim-bench-") as tmp:
        results = measure(max(1, args.repeats), args.skip_flower, Path(tmp))
        profile = profile_inline(Path(tmp), args.profile) if args.profile else ""
    load_after = os.getloadavg()
    central_s = results[0].total_s
    main_table, phases = table(results, central_s), phases_table(results)
    checks = verdicts(results)
    print("\n" + main_table + "\n\n" + phases + "\n")
    for name, check in checks.items():
        print(f"- {name}: {fmt(check['measured'])} -> {'met' if check['met'] else 'NOT met'}")
    print(f"load average before {load_before}, after {load_after}")
    if profile:
        print(profile)
    payload = {
        "job": {"overrides": list(JOB), "sgd_steps": steps},
        "environment": environment(),
        "load_average": {"before": load_before, "after": load_after},
        "targets": checks,
        "results": [asdict(r) for r in results],
        "table": main_table,
        "phases": phases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
