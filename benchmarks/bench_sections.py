"""The sections of benchmarks/bench.py: each calls its script's functions and returns
{"table": markdown, "data": raw numbers, "targets": [(name, measured, met)]}.

`quick` shrinks sizes and repeats so that the whole suite takes a few minutes.
"""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

import dp_overhead
import efficiency as efficiency_script
import engine_overhead
import population as population_script
import scaling
import secagg_overhead
import startup as startup_script
import sweep_startup

Section = dict[str, Any]


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} {unit}"


def _target(name: str, value: float | None, limit: float, unit: str,
            digits: int = 1, at_least: bool = False) -> tuple[str, str, bool]:
    met = value is not None and (value >= limit if at_least else value <= limit)
    return name, _fmt(value, unit, digits), met


def environment() -> dict[str, Any]:
    """Machine and versions the numbers were measured on."""
    return {**engine_overhead.environment(), "load_average": os.getloadavg(),
            "platform": platform.platform()}  # fmt: skip


def ways(quick: bool, tmp: Path) -> Section:
    """(a) central loop, inline, ray and Flower's run_simulation on the same job."""
    results = engine_overhead.measure(1 if quick else 2, skip_flower=False, runs_dir=tmp / "a")
    central = results[0].total_s
    inline = engine_overhead.warm(results, "fedsim-inline")
    ray = engine_overhead.warm(results, "fedsim-ray")
    flower = engine_overhead.warm(results, "flower")
    targets = [
        _target("engine overhead per round, 10 clients, inline (minus server eval)",
                inline and inline.engine_ms, 10, "ms"),
        _target("engine overhead per round, 10 clients, ray (minus server eval)",
                ray and ray.engine_ms, 10, "ms"),
        _target("per-round overhead incl. server eval, 10 clients, inline",
                inline and inline.overhead_ms, 10, "ms"),
    ]
    table = engine_overhead.table(results, central) + "\n\n" + engine_overhead.phases_table(
        results)
    if flower is not None:
        table += (f"\n\nFlower run_simulation total {flower.total_s:.2f} s, per-round overhead "
                  f"{_fmt(flower.overhead_ms, 'ms')} (estimate); central loop {central:.3f} s.")
    return {"table": table, "data": [asdict(r) for r in results], "targets": targets}


def clients_per_round(quick: bool, tmp: Path) -> Section:
    """(b) engine overhead per round at 10 / 100 / 1000 clients per round."""
    sizes = [10, 100] if quick else [10, 100, 1000]
    rows = scaling.per_round_table(tmp / "b", sizes)
    by_size = {r["clients"]: r for r in rows}
    targets = [_target(f"engine overhead per round, {n} clients (inline, minus server eval)",
                       by_size[n]["engine_ms"], limit, "ms")
               for n, limit in ((10, 10), (100, 50)) if n in by_size]  # fmt: skip
    return {"table": scaling.markdown(rows, []).split("\n\n")[0], "data": rows,
            "targets": targets}


def model_size(quick: bool, tmp: Path) -> Section:
    """(f) overhead share of the round as the model grows."""
    widths = (3, 30, 300) if quick else (3, 30, 300, 3200)
    rows = scaling.model_size_table(tmp / "f", widths)
    return {"table": scaling.markdown([], rows).split("\n\n")[1], "data": rows, "targets": []}


def population(quick: bool, tmp: Path) -> Section:
    """(c) 10 / 10k / 100k registered clients, 10 sampled per round."""
    sizes = [10, 10_000] if quick else [10, 10_000, 100_000]
    (tmp / "c").mkdir(exist_ok=True)
    rows = [population_script.run_population(n, 10, 4, tmp / "c") for n in sizes]
    largest = rows[-1]
    extra = largest["peak_mb"] - rows[0]["peak_mb"]
    targets = [_target(f"extra memory, {largest['clients']:,} registered clients", extra, 1024,
                       "MB", 0)]
    return {"table": population_script.markdown(rows), "data": rows, "targets": targets}


def dp(quick: bool, tmp: Path) -> Section:
    """(d) record-level DP-SGD ms per step against plain SGD, per task model."""
    import torch

    torch.set_num_threads(1)  # what a client gets
    steps, repeats = (5, 1) if quick else (20, 3)
    rows = [{"case": name, **dp_overhead.measure(overrides, steps, repeats)}
            for name, overrides in dp_overhead.CASES.items()]  # fmt: skip
    lines = ["| model (task) | plain ms/step | DP ms/step | ratio |", "|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['plain_ms_per_step']:.1f} | {r['dp_ms_per_step']:.1f} | "
              f"{r['ratio']:.2f} |" for r in rows]
    return {"table": "\n".join(lines), "data": rows, "targets": []}


def secagg(quick: bool, tmp: Path) -> Section:
    """(e) SecAgg+ round time against plain, 10 / 50 / 100 clients."""
    sizes = [10, 50] if quick else [10, 50, 100]
    (tmp / "e").mkdir(exist_ok=True)
    rows = [secagg_overhead.measure(n, 4, flag, tmp / "e") for n in sizes for flag in (False, True)]
    return {"table": secagg_overhead.table(rows), "data": rows, "targets": []}


def startup(quick: bool, tmp: Path) -> Section:
    """Process start to the first round, inline and ray, in fresh processes."""
    rows = startup_script.run_all(["inline", "ray"], 1 if quick else 3)
    median = {b: statistics.median(r["startup_s"] for r in rows if r["backend"] == b)
              for b in ("inline", "ray")}  # fmt: skip
    targets = [_target("start-up to first round, inline (fresh process, median)",
                       median["inline"], 3, "s", 2),
               _target("start-up to first round, ray (fresh process, Ray + actors, median)",
                       median["ray"], 8, "s", 2)]  # fmt: skip
    return {"table": startup_script.markdown(rows), "data": rows, "targets": targets}


def efficiency(quick: bool, tmp: Path) -> Section:
    """Simulation efficiency of the ray backend on the default classify and nextword runs."""
    rows = efficiency_script.run_all(3 if quick else 5, "classify" if quick else "")
    targets = [_target(f"simulation efficiency (steady rounds), {r['experiment']}",
                       r["steady_efficiency"], 0.9, "", 3, at_least=True) for r in rows]
    return {"table": efficiency_script.markdown(rows), "data": rows, "targets": targets}


def sweep(quick: bool, tmp: Path) -> Section:
    """A ray sweep: Ray started once, the later cells on the live pool."""
    from fedsim.engine.ray_executor import shutdown_pool

    shutdown_pool()  # earlier sections' Ray: the sweep must start its own, once
    (tmp / "w").mkdir(exist_ok=True)
    result = sweep_startup.measure(5 if quick else 20, tmp / "w")
    targets = [(f"a {result['cells']}-cell sweep starts Ray once",
                f"{result['ray_init_calls']} ray.init call(s)", result["ray_init_calls"] == 1)]
    return {"table": sweep_startup.markdown(result), "data": result, "targets": targets}
