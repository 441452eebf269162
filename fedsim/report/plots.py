"""The report's PNG figures, drawn from per-round series and the partition histogram.

Figures are built with matplotlib's object API (``Figure`` + Agg canvas), not pyplot: no
global figure registry, no backend switch for the caller, nothing left open after saving.

Margins are fixed, in inches, rather than found by a layout engine: constrained layout
measured every tick label twice per figure and cost more than the drawing itself (about
half of the report's time, which was more than a small federation's). Only the partition
legend, whose width depends on class names, is measured.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fedsim.report.partition import Partition
from fedsim.report.series import Rounds, metric_keys, series

CURVES = "curves.png"
METRICS = "metrics.png"
PARTITION = "partition.png"

_DPI = 110
_MAX_LEGEND_CLASSES = 20
# Inches around the axes: tick labels + axis label on the left and bottom, title on top.
_LEFT, _RIGHT, _BOTTOM, _TOP = 0.85, 0.2, 0.55, 0.4
_GAP_W, _GAP_H = 0.85, 0.95  # between panels: the next panel's y labels; title + x label
_LEGEND_PAD = 0.1  # inches between the axes and an outside legend, and after it


def _margins(fig: Figure, rows: int = 1, cols: int = 1, right: float = _RIGHT) -> None:
    """Place the axes grid with fixed margins (inches), whatever the figure size."""
    width, height = fig.get_size_inches()
    panel_w = (width - _LEFT - right - (cols - 1) * _GAP_W) / cols
    panel_h = (height - _BOTTOM - _TOP - (rows - 1) * _GAP_H) / rows
    fig.subplots_adjust(
        left=_LEFT / width,
        right=1 - right / width,
        bottom=_BOTTOM / height,
        top=1 - _TOP / height,
        wspace=_GAP_W / panel_w,
        hspace=_GAP_H / panel_h,
    )


def _style(ax: Axes, title: str, ylabel: str, xlabel: str = "round") -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _class_color(index: int, classes: int) -> tuple[float, float, float, float]:
    """Distinct colours for up to 20 classes, a continuous map beyond that."""
    if classes <= 10:
        return colormaps["tab10"](index)
    if classes <= 20:
        return colormaps["tab20"](index)
    return colormaps["viridis"](index / (classes - 1))


def _axes_width(fig: Figure, ax: Axes) -> float:
    """Width of `ax` in inches."""
    return float(ax.get_position().width * fig.get_size_inches()[0])


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=_DPI, metadata={"Software": None})


def plot_curves(rounds: Rounds, path: Path) -> bool:
    """Train loss and dev loss (plus federated-eval loss) vs round; False if none recorded."""
    lines = [
        ("train loss (clients, weighted)", series(rounds, "train", "loss"), "o-"),
        ("dev loss (server)", series(rounds, "dev", "loss"), "s-"),
        ("federated eval loss", series(rounds, "federated_eval", "loss"), "^--"),
    ]
    lines = [line for line in lines if line[1][0]]
    if not lines:
        return False
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    _margins(fig)
    for label, (xs, ys), style in lines:
        ax.plot(xs, ys, style, label=label, markersize=3)
    _style(ax, "Loss per round: train and dev", "loss")
    ax.legend()
    _save(fig, path)
    return True


def plot_metrics(rounds: Rounds, path: Path) -> bool:
    """One panel per non-loss metric (dev and federated eval); False if there are none."""
    keys = [k for k in metric_keys(rounds, "dev") if k != "loss"]
    keys += [k for k in metric_keys(rounds, "federated_eval") if k != "loss" and k not in keys]
    if not keys:
        return False
    cols = min(len(keys), 3)
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(5.0 * cols, 3.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    _margins(fig, rows, cols)
    for ax, key in zip(axes, keys, strict=False):
        for section, label, style in (
            ("dev", "dev (server)", "s-"),
            ("federated_eval", "federated eval", "^--"),
        ):
            xs, ys = series(rounds, section, key)
            if xs:
                ax.plot(xs, ys, style, label=label, markersize=3)
        _style(ax, f"{key} vs round", key)
        ax.legend()
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    _save(fig, path)
    return True


_MAX_BAR_CLIENTS = 200
_MAX_STACKED_CLASSES = 100


def partition_series(partition: Partition) -> list[tuple[str, list[int]]]:
    """The bar series to stack: one per class, or only the client totals beyond
    _MAX_STACKED_CLASSES classes (thousands of series take a minute to draw)."""
    if len(partition.class_names) > _MAX_STACKED_CLASSES:
        return [("all classes", list(partition.client_totals()))]
    return [(name, [row[i] for row in partition.histogram])
            for i, name in enumerate(partition.class_names)]


def plot_partition(partition: Partition, path: Path) -> bool:
    """Stacked bars: clients on x, examples per class stacked; False if there are no clients."""
    registered = len(partition.histogram)
    clients = min(registered, _MAX_BAR_CLIENTS)  # 100k bars take minutes and show nothing
    classes = len(partition.class_names)
    if clients == 0 or classes == 0:
        return False
    fig = Figure(figsize=(min(4 + 0.4 * clients, 16), 4.5))
    ax = fig.subplots()
    _margins(fig)
    stacked = classes <= _MAX_STACKED_CLASSES
    title = (f"Examples per class per client ({partition.partitioner} partition)" if stacked
             else f"Examples per client ({partition.partitioner} partition)")
    bottoms = [0] * clients
    for index, (name, heights) in enumerate(partition_series(partition)):
        color = _class_color(index, classes) if stacked else None
        heights = heights[:clients]
        ax.bar(range(clients), heights, bottom=bottoms, label=name, color=color, width=0.8)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    if classes <= _MAX_LEGEND_CLASSES:
        legend = ax.legend(
            title="class", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small"
        )
        renderer = FigureCanvasAgg(fig).get_renderer()  # measure the legend only
        width = legend.get_window_extent(renderer).width / fig.dpi
        _margins(fig, right=width + 2 * _LEGEND_PAD)
        legend.set_bbox_to_anchor((1.0 + _LEGEND_PAD / _axes_width(fig, ax), 0.5))
    else:
        title += f", {classes} classes"
    if registered > clients:
        title += f", first {clients} of {registered} clients"
    _style(ax, title, "examples", xlabel="client (partition id)")
    _save(fig, path)
    return True
