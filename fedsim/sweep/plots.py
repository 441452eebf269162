"""Sweep-level figures, named in a spec's ``[sweep] plots`` (drawn after the tables).

A plot takes (sweep_dir, rows, label_columns, metrics) and returns the PNG's file name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fedsim.registry import Registry

SweepPlot = Callable[[Path, list[dict[str, Any]], list[str], list[str]], str]
SWEEP_PLOTS: Registry[SweepPlot] = Registry("sweep plot", "sweep.plots")


@SWEEP_PLOTS.register("agg_frequency")
def _agg_frequency(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                   metrics: list[str]) -> str:
    from fedsim.sweep.agg_plot import plot_agg_frequency  # matplotlib only when drawing

    return plot_agg_frequency(sweep_dir, rows, label_columns, metrics)
