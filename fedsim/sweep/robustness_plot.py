"""robustness_heatmap.png: one row per (attack behaviour, malicious fraction), one column per
aggregator, each cell the mean over seeds of the final dev accuracy (and, when any cell
ran a backdoor, a second panel with its backdoor success; blank where not measured).

Rows come from the cells' own configs (``attack.behaviour``, ``attack.malicious_fraction``;
the row facts ``attack_behaviour``, ``malicious_fraction``); columns from the ``aggregator``
label column when the spec has one (so two variants of one strategy, e.g. FedAvg with and
without clipping, stay apart), else ``strategy.name``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ROBUSTNESS_HEATMAP = "robustness_heatmap.png"
AGGREGATOR = "aggregator"
BACKDOOR = "dev_backdoor_success"
Heatmap = tuple[list[str], list[str], np.ndarray]


def threat(row: dict[str, Any]) -> str:
    """A heatmap row label: the behaviour and the malicious fraction (``clean`` without)."""
    fraction = float(row["malicious_fraction"])
    if row["attack_behaviour"] == "none" or fraction == 0:
        return "clean"
    return f"{row['attack_behaviour']} {fraction:g}"


def aggregator(row: dict[str, Any]) -> str:
    """A heatmap column label."""
    return str(row.get(AGGREGATOR, row["strategy"]))


def heatmap_matrix(rows: list[dict[str, Any]], metric: str) -> Heatmap:
    """(row labels, column labels, matrix of means over seeds; NaN where no cell has it),
    rows and columns in order of first appearance."""
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    threats: dict[str, None] = {}
    aggregators: dict[str, None] = {}
    for row in rows:
        key = threat(row), aggregator(row)
        threats.setdefault(key[0])
        aggregators.setdefault(key[1])
        if row.get(metric) is not None and not math.isnan(float(row[metric])):
            values[key].append(float(row[metric]))
    matrix = np.full((len(threats), len(aggregators)), np.nan)
    for (t, a), found in values.items():
        matrix[list(threats).index(t), list(aggregators).index(a)] = statistics.fmean(found)
    return list(threats), list(aggregators), matrix


def _panel(fig: Figure, ax: Any, heat: Heatmap, title: str, cmap: str) -> None:
    threats, aggregators, matrix = heat
    image = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(aggregators)), aggregators, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(threats)), threats, fontsize=7)
    for (i, j), value in np.ndenumerate(matrix):
        if not math.isnan(value):
            red, green, blue, _ = image.cmap(image.norm(value))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # luminance of the cell
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)


def plot_robustness_heatmap(sweep_dir: Path, rows: list[dict[str, Any]],
                            label_columns: list[str], metrics: list[str]) -> str:
    """robustness_heatmap.png; returns its file name."""
    utility = next((m for m in metrics if m.startswith("dev_") and m != BACKDOOR),
                   "dev_accuracy")
    panels = [(heatmap_matrix(rows, utility), f"{utility} (mean over seeds)", "viridis")]
    if any(row.get(BACKDOOR) is not None for row in rows):
        panels.append((heatmap_matrix(rows, BACKDOOR), "backdoor success (lower is better)",
                       "magma_r"))
    fig = Figure(figsize=(6.5 * len(panels), 0.45 * len(panels[0][0][0]) + 2.2))
    FigureCanvasAgg(fig)
    for ax, (heat, title, cmap) in zip(fig.subplots(1, len(panels), squeeze=False)[0],
                                       panels, strict=True):
        _panel(fig, ax, heat, title, cmap)
    fig.tight_layout()
    fig.savefig(sweep_dir / ROBUSTNESS_HEATMAP, dpi=100)
    return ROBUSTNESS_HEATMAP
