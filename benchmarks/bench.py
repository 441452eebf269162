"""The whole benchmark suite behind one command: every issue-#9 measurement, one table each,
and a targets table, written as JSON and markdown.

Sections (each the function of its own script, run in this process unless noted):

  a  engine_overhead.py  the same SGD work as a plain torch loop, fedsim inline, fedsim ray,
                         Flower's run_simulation; start-up, totals, per-round overhead
  b  scaling.py          per-round engine overhead at 10 / 100 / 1000 clients per round
  c  population.py       10 / 10k / 100k registered clients (a process each: peak memory)
  d  dp_overhead.py      record-level DP-SGD cost per step, per task model
  e  secagg_overhead.py  SecAgg+ cost per round at 10 / 50 / 100 clients
  f  scaling.py          model size 0.01M-10M parameters: where overhead stops mattering
  s  startup.py          process start to the first round, inline and ray (a process each)
  r  efficiency.py       simulation efficiency of the ray backend on the default experiments
  w  sweep.py            a 20-cell ray sweep: Ray starts once, per-cell times

    .venv/bin/python benchmarks/bench.py                 # everything (~15 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick         # smaller sizes (~3 min)
    .venv/bin/python benchmarks/bench.py --only a,b      # some sections

Writes benchmarks/results/bench.json and bench.md. Wall times: close other work first; the
load average before and after each section is recorded with it. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fedsim.quiet import quiet_environment  # noqa: E402

quiet_environment(FEDSIM_NO_PROGRESS="1")

import bench_sections as sections  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS: dict[str, tuple[str, Callable[[bool, Path], dict[str, Any]]]] = {
    "a": ("central vs inline vs ray vs Flower run_simulation", sections.ways),
    "b": ("per-round engine overhead vs clients per round", sections.clients_per_round),
    "c": ("population: registered clients", sections.population),
    "d": ("record-level DP overhead per task", sections.dp),
    "e": ("SecAgg+ overhead", sections.secagg),
    "f": ("model size sweep", sections.model_size),
    "s": ("start-up to the first round", sections.startup),
    "r": ("simulation efficiency (ray)", sections.efficiency),
    "w": ("a ray sweep (20 cells; 5 with --quick)", sections.sweep),
}


def run_section(key: str, quick: bool, tmp: Path) -> dict[str, Any]:
    """One section's table, data and targets, with its wall time and load averages."""
    title, measure = SECTIONS[key]
    print(f"[{key}] {title} ...", file=sys.stderr, flush=True)
    load, start = os.getloadavg(), time.perf_counter()
    result = measure(quick, tmp)
    result.update(title=title, seconds=round(time.perf_counter() - start, 1),
                  load_before=load, load_after=os.getloadavg())
    print(result["table"] + "\n", file=sys.stderr, flush=True)
    return result


def targets_table(results: dict[str, dict[str, Any]]) -> str:
    """Every target the sections checked: target, measured value, met or not."""
    lines = ["| target | measured | met |", "|---|---|---|"]
    for result in results.values():
        for name, measured, met in result.get("targets", []):
            lines.append(f"| {name} | {measured} | {'yes' if met else '**no**'} |")
    return "\n".join(lines)


def markdown(results: dict[str, dict[str, Any]], environment: dict[str, Any]) -> str:
    """The report: environment, targets, then each section's table."""
    parts = ["# fedsim benchmark", "", "```", json.dumps(environment, indent=1), "```", "",
             "## Targets", "", targets_table(results)]
    for key, result in results.items():
        load = ", ".join(f"{x:.1f}" for x in result["load_before"])
        parts += ["", f"## ({key}) {result['title']}", "",
                  f"{result['seconds']} s, load average before: {load}", "", result["table"]]
    return "\n".join(parts) + "\n"


def main() -> None:
    """Run the chosen sections in order; write bench.json and bench.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, e.g. a,b,r")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench.json")
    args = parser.parse_args()
    chosen = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in SECTIONS]
    if unknown:
        parser.error(f"--only: unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    environment = sections.environment()
    with tempfile.TemporaryDirectory(prefix="fedsim-bench-") as tmp:
        results = {k: run_section(k, args.quick, Path(tmp)) for k in chosen}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"environment": environment, "quick": args.quick, "sections": results}
    args.out.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    report = markdown(results, environment)
    args.out.with_suffix(".md").write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
