"""Sweep-level figures, named in a spec's ``[sweep] plots`` (drawn after the tables).

A plot takes (sweep_dir, rows, label_columns, metrics) and returns the file name of what it
wrote: a PNG (linked from results.md) or a Markdown table (`.md`, copied into results.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fedsim.registry import Registry

SweepPlot = Callable[[Path, list[dict[str, Any]], list[str], list[str]], str]
SWEEP_PLOTS: Registry[SweepPlot] = Registry("sweep plot", "sweep.plots")


def _lazy(module: str, function: str) -> SweepPlot:
    """A sweep plot that imports `module` (matplotlib) only when it draws."""

    def draw(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
             metrics: list[str]) -> str:
        plot = getattr(importlib.import_module(module), function)
        return plot(sweep_dir, rows, label_columns, metrics)

    return draw


for _name, _module, _function in (
    ("agg_frequency", "fedsim.sweep.agg_plot", "plot_agg_frequency"),
    ("privacy_utility", "fedsim.sweep.privacy_plot", "plot_privacy_utility"),
    ("privacy_table", "fedsim.sweep.privacy_plot", "write_privacy_table"),
    ("robustness_heatmap", "fedsim.sweep.robustness_plot", "plot_robustness_heatmap"),
):
    SWEEP_PLOTS.register(_name)(_lazy(_module, _function))
