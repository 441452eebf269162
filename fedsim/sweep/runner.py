"""Run a sweep: every cell not yet finished, then the results tables.

The sweep directory is ``<sweeps_dir>/<sweep name>/``; cell k runs as a normal run under
``cells/<cell name>/``. A cell counts as finished when one of its run directories has a
summary.json, so re-running the same command after a kill runs only the missing cells.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from fedsim.config import apply_overrides, parse_config
from fedsim.engine.run import run
from fedsim.sweep.spec import Cell, SweepSpec, load_spec
from fedsim.sweep.table import write_tables
from fedsim.tracking.run_dir import write_text


def finished_run(cell_dir: Path) -> Path | None:
    """The cell's finished run directory, if any."""
    done = sorted(p.parent for p in cell_dir.glob("*/summary.json"))
    return done[-1] if done else None


def _row(cell: Cell, run_dir: Path, sweep_dir: Path) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text())
    row: dict[str, Any] = dict(cell.labels)
    row.update(seed=summary["seed"], cell=cell.name, wall_seconds=summary["wall_seconds"])
    row["images"] = [(a["title"], str((run_dir / a["file"]).relative_to(sweep_dir)))
                     for a in summary.get("artifacts", []) if a["file"].endswith(".png")]
    row.update({f"dev_{k}": v for k, v in summary["final"]["dev"].items()})
    row.update({f"test_{k}": v for k, v in summary["final"]["test"].items()})
    return row


def _run_cell(spec: SweepSpec, cell: Cell, cell_dir: Path) -> Path:
    extra = [f'run.runs_dir="{cell_dir}"', f'run.name="{cell.name}"']
    return run(parse_config(apply_overrides(spec.base, [*cell.overrides, *extra])))[0]


def run_sweep(path: Path, overrides: tuple[str, ...], sweeps_dir: Path) -> Path:
    """Run the missing cells of the sweep at `path`; returns the sweep directory."""
    spec = load_spec(path, overrides)
    sweep_dir = sweeps_dir / spec.name
    (sweep_dir / "cells").mkdir(parents=True, exist_ok=True)
    write_text(sweep_dir / "spec.toml", path.read_text(encoding="utf-8"))
    rows, started = [], time.perf_counter()
    for i, cell in enumerate(spec.cells, 1):
        cell_dir = sweep_dir / "cells" / cell.name
        run_dir = finished_run(cell_dir)
        state = "done before" if run_dir else "ran"
        run_dir = run_dir or _run_cell(spec, cell, cell_dir)
        rows.append(_row(cell, run_dir, sweep_dir))
        print(f"[{i}/{len(spec.cells)}] {cell.name}: {state}", file=sys.stderr, flush=True)
    labels = [c for c, _ in spec.cells[0].labels]
    metrics = [f"dev_{m}" for m in spec.metrics] or sorted(
        k for k in rows[0] if k.startswith(("dev_", "test_")))
    table = write_tables(sweep_dir, rows, labels, metrics)
    print(table, file=sys.stderr)
    print(f"sweep wall time {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return sweep_dir
