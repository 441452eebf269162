"""Aggregation frequency vs ensembling: the dev metric against the aggregation period H and
against the bytes communicated, mean ± std over seeds.

Reads the sweep's rows: a cell with strategy ``ensemble`` / ``oneshot`` is a "never
aggregate" end, a one-client cell is the centralized reference, every other cell sits at
H = client.local_steps (fedsgd: 1). Panels: one row per value of the ``task`` column (if
any); lines: the other label columns except ``H`` (e.g. the data setting).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

AGG_FREQUENCY = "agg_frequency.png"
H_AXIS = "H"
ENDS = {"ensemble": ("ensemble", ":", "*"), "oneshot": ("one-shot average", "-.", "D"),
        "central": ("centralized SGD", "-", "x")}


def position(row: dict[str, Any]) -> str | int:
    """Where a cell sits: H (local steps between aggregations) or the name of an end."""
    if row["strategy"] in ("ensemble", "oneshot"):
        return str(row["strategy"])
    if int(row["num_clients"]) == 1:
        return "central"
    return 1 if row["strategy"] == "fedsgd" else int(row["local_steps"])


def _stats(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def curve_points(rows: list[dict[str, Any]], metric: str
                 ) -> dict[str | int, tuple[float, float, float]]:
    """Per position: (mean metric, std metric, mean bytes communicated) over seeds."""
    by_pos: dict[str | int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if metric in row:
            by_pos[position(row)].append(row)
    return {pos: (*_stats([float(r[metric]) for r in members]),
                  statistics.fmean(float(r["bytes"]) for r in members))
            for pos, members in by_pos.items()}


def _draw(ax_h: Any, ax_b: Any, points: dict, label: str, color: str) -> None:
    hs = sorted(p for p in points if isinstance(p, int))
    if hs:
        mean = [points[h][0] for h in hs]
        ax_h.errorbar(hs, mean, yerr=[points[h][1] for h in hs], color=color, marker="o",
                      ms=3, capsize=2, label=f"{label} FedAvg(H)")
        ax_b.errorbar([points[h][2] for h in hs], mean, yerr=[points[h][1] for h in hs],
                      color=color, marker="o", ms=3, capsize=2, label=f"{label} FedAvg(H)")
    for end, (name, style, marker) in ENDS.items():
        if end in points:
            mean, std, sent = points[end]
            ax_h.axhline(mean, color=color, ls=style, lw=1, label=f"{label} {name}")
            ax_b.errorbar([sent], [mean], yerr=[std], color=color, marker=marker, ms=6,
                          ls="none", capsize=2, label=f"{label} {name}")


def plot_agg_frequency(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                       metrics: list[str]) -> str:
    """agg_frequency.png: per task, metric vs H (log x) and vs bytes (log x)."""
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        tasks[str(row.get("task", row.get("task_name", "")))].append(row)
    series_cols = [c for c in label_columns if c not in (H_AXIS, "task")]
    fig = Figure(figsize=(11, 3.6 * len(tasks)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(tasks), 2, squeeze=False)
    for (task, members), (ax_h, ax_b) in zip(sorted(tasks.items()), axes, strict=True):
        metric = next((m for m in metrics if any(m in r for r in members)), metrics[0])
        series: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in members:
            series[" / ".join(str(row[c]) for c in series_cols) or "all"].append(row)
        for i, (label, part) in enumerate(sorted(series.items())):
            _draw(ax_h, ax_b, curve_points(part, metric), label, f"C{i}")
        for ax, xlabel in ((ax_h, "H = local steps between aggregations (log)"),
                           (ax_b, "bytes communicated, whole run (log)")):
            ax.set_xscale("log")
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_ylabel(metric, fontsize=8)
            ax.set_title(f"{task} {metric} (mean ± std over seeds)".strip(), fontsize=9)
            ax.tick_params(labelsize=7)
        ax_b.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(sweep_dir / AGG_FREQUENCY, dpi=100)
    return AGG_FREQUENCY
