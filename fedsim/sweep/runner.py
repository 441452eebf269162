"""Run a sweep: every cell not yet finished, then the results tables.

The sweep directory is ``<sweeps_dir>/<sweep name>/``; cell k runs as a normal run under
``cells/<cell name>/``. A cell counts as finished when one of its run directories has a
summary.json, so re-running the same command after a kill runs only the missing cells.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from fedsim.config import apply_overrides, parse_config
from fedsim.engine.run import run
from fedsim.sweep.curves import plot_loss_curves
from fedsim.sweep.plots import SWEEP_PLOTS
from fedsim.sweep.rigor import rigor_section
from fedsim.sweep.spec import Cell, SweepSpec, load_spec
from fedsim.sweep.summary_path import metric_column, summary_metrics
from fedsim.sweep.table import write_tables
from fedsim.tracking.manifest import build_manifest, now
from fedsim.tracking.run_dir import write_json, write_text


def finished_run(cell_dir: Path) -> Path | None:
    """The cell's finished run directory, if any."""
    done = sorted(p.parent for p in cell_dir.glob("*/summary.json"))
    return done[-1] if done else None


def _row(cell: Cell, run_dir: Path, sweep_dir: Path, metrics: tuple[str, ...] = ()
         ) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text())
    row: dict[str, Any] = dict(cell.labels)
    row.update(seed=summary["seed"], cell=cell.name, wall_seconds=summary["wall_seconds"])
    row["images"] = [(a["title"], str((run_dir / a["file"]).relative_to(sweep_dir)))
                     for a in summary.get("artifacts", []) if a["file"].endswith(".png")]
    row.update({f"dev_{k}": v for k, v in summary["final"]["dev"].items()})
    row.update({f"test_{k}": v for k, v in summary["final"]["test"].items()})
    row.update(summary_metrics(summary, metrics))
    row.update(_run_facts(run_dir, summary, sweep_dir))
    return row


def _run_facts(run_dir: Path, summary: dict[str, Any], sweep_dir: Path) -> dict[str, Any]:
    """What sweep plots and the checklist read besides the metrics."""
    config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    return {
        "run_dir": str(run_dir.relative_to(sweep_dir)),
        "task_name": summary["task"],
        "strategy": summary["strategy"],
        "rounds": summary["rounds"],
        "num_clients": summary.get("num_clients", config["data"]["num_clients"]),
        "local_steps": config["client"]["local_steps"],
        "bytes": summary["bytes"]["sent"] + summary["bytes"]["received"],
        "privacy_mode": summary["privacy"]["mode"],
        "overlap": summary.get("overlap"),
        # privacy and robustness plots (names apart from the spec's axis columns, which a
        # fact of the same name would overwrite in the table)
        "epsilon_accounted": summary["privacy"].get("epsilon"),
        "target_epsilon": config.get("privacy", {}).get("target_epsilon", 0.0),
        "secagg_enabled": bool(config.get("secagg", {}).get("enabled", False)),
        "mia_results": summary.get("attacks", {}).get("mia"),
        "attack_behaviour": config.get("attack", {}).get("behaviour", "none"),
        "malicious_fraction": config.get("attack", {}).get("malicious_fraction", 0.0),
    }


def _run_cell(spec: SweepSpec, cell: Cell, cell_dir: Path) -> Path:
    extra = [f'run.runs_dir="{cell_dir}"', f'run.name="{cell.name}"']
    return run(parse_config(apply_overrides(spec.base, [*cell.overrides, *extra])))[0]


def run_sweep(path: Path, overrides: tuple[str, ...], sweeps_dir: Path) -> Path:
    """Run the missing cells of the sweep at `path`; returns the sweep directory."""
    spec = load_spec(path, overrides)
    sweep_dir = sweeps_dir / spec.name
    (sweep_dir / "cells").mkdir(parents=True, exist_ok=True)
    write_text(sweep_dir / "spec.toml", path.read_text(encoding="utf-8"))
    rows, started, ran = [], time.perf_counter(), 0
    for i, cell in enumerate(spec.cells, 1):
        cell_dir = sweep_dir / "cells" / cell.name
        run_dir = finished_run(cell_dir)
        state = "done before" if run_dir else "ran"
        ran += not run_dir
        run_dir = run_dir or _run_cell(spec, cell, cell_dir)
        rows.append(_row(cell, run_dir, sweep_dir, spec.metrics))
        print(f"[{i}/{len(spec.cells)}] {cell.name}: {state}", file=sys.stderr, flush=True)
    labels = [c for c, _ in spec.cells[0].labels]
    metrics = [metric_column(m) for m in spec.metrics] or sorted(
        k for k in rows[0] if k.startswith(("dev_", "test_")))
    table = write_tables(sweep_dir, rows, labels, metrics)
    report = _figures_and_checklist(spec, sweep_dir, rows, labels, metrics,
                                    time.perf_counter() - started, ran)
    print(table + report, file=sys.stderr)
    print(f"sweep wall time {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return sweep_dir


def _earlier_invocations(path: Path) -> list[dict[str, Any]]:
    """What earlier runs of this sweep's command recorded (a resumed sweep keeps them)."""
    try:
        return list(json.loads(path.read_text(encoding="utf-8")).get("invocations", []))
    except (OSError, ValueError):
        return []


def _figures_and_checklist(spec: SweepSpec, sweep_dir: Path, rows: list[dict[str, Any]],
                           labels: list[str], metrics: list[str], seconds: float, ran: int
                           ) -> str:
    """Sweep plots, loss curves, manifest.json and the checklist, appended to results.md."""
    figures = {name: SWEEP_PLOTS.get(name)(sweep_dir, rows, labels, metrics)
               for name in spec.plots}
    curves = plot_loss_curves(sweep_dir, rows, labels)
    manifest = build_manifest(spec.seeds[0], str(spec.base.get("run", {}).get("backend", "")))
    manifest.update(seeds=list(spec.seeds), hparams=spec.hparams, sweep_seconds=seconds,
                    cells=len(rows), cells_run=ran, finished_at=now(), status="finished",
                    load_average=[round(x, 2) for x in os.getloadavg()])
    manifest["invocations"] = [*_earlier_invocations(sweep_dir / "manifest.json"), {
        "finished_at": manifest["finished_at"], "seconds": seconds, "cells_run": ran}]
    write_json(sweep_dir / "manifest.json", manifest)
    text = "".join(f"\n{(sweep_dir / file).read_text(encoding='utf-8')}\n" if file.endswith(".md")
                   else f"\n![{name}]({file})\n" for name, file in figures.items())
    text += rigor_section(spec, rows, manifest, curves)
    with (sweep_dir / "results.md").open("a", encoding="utf-8") as handle:
        handle.write(text)
    return text
