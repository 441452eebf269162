"""Sweep-level figures, named in a spec's ``[sweep] plots`` (drawn after the tables).

A plot takes (sweep_dir, rows, label_columns, metrics) and returns the file name of what it
wrote: a PNG (linked from results.md) or a Markdown table (`.md`, copied into results.md).
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


@SWEEP_PLOTS.register("privacy_utility")
def _privacy_utility(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                     metrics: list[str]) -> str:
    from fedsim.sweep.privacy_plot import plot_privacy_utility

    return plot_privacy_utility(sweep_dir, rows, label_columns, metrics)


@SWEEP_PLOTS.register("privacy_table")
def _privacy_table(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                   metrics: list[str]) -> str:
    from fedsim.sweep.privacy_plot import write_privacy_table

    return write_privacy_table(sweep_dir, rows, label_columns, metrics)


@SWEEP_PLOTS.register("robustness_heatmap")
def _robustness_heatmap(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                        metrics: list[str]) -> str:
    from fedsim.sweep.robustness_plot import plot_robustness_heatmap

    return plot_robustness_heatmap(sweep_dir, rows, label_columns, metrics)
