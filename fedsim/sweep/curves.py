"""Train and dev loss curves of every cell of a sweep, one panel per group (seeds overlaid).

The course notes' rule: always track the training loss and the development loss. The x axis
is local SGD steps per client so far (round x client.local_steps), so groups that aggregate
at different periods share one scale.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

LOSS_CURVES = "loss_curves.png"
_COLS = 4


def cell_curves(run_dir: Path) -> dict[str, list[tuple[float, float]]]:
    """(local steps, loss) points of the dev loss (round 0 = initial model) and of the
    clients' mean training loss (rounds >= 1) of one run."""
    config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    steps = int(config.get("client", {}).get("local_steps") or 1)
    out: dict[str, list[tuple[float, float]]] = {"dev": [], "train": []}
    for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        x = row["round"] * steps
        if "loss" in row.get("dev", {}):
            out["dev"].append((x, row["dev"]["loss"]))
        if (row.get("train") or {}).get("loss") is not None:
            out["train"].append((x, row["train"]["loss"]))
    return out


def _panel(ax: Any, title: str, members: list[dict[str, Any]], sweep_dir: Path) -> None:
    for i, row in enumerate(sorted(members, key=lambda r: r["seed"])):
        curves = cell_curves(sweep_dir / row["run_dir"])
        for split, style in (("train", "-"), ("dev", "--")):
            if curves[split]:
                xs, ys = zip(*curves[split], strict=True)
                ax.plot(xs, ys, style, color=f"C{i}", lw=1, marker=".", ms=3,
                        label=f"{split} seed {row['seed']}")
    ax.set_title(title, fontsize=7)
    ax.set_xlabel("local steps per client", fontsize=7)
    ax.tick_params(labelsize=6)


def plot_loss_curves(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str]
                     ) -> str:
    """loss_curves.png (train solid, dev dashed, a colour per seed); returns its file name."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(str(row[c]) for c in label_columns), []).append(row)
    cols = min(_COLS, len(groups))
    nrows = math.ceil(len(groups) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax, (key, members) in zip(axes, groups.items(), strict=False):
        _panel(ax, " / ".join(key) or "run", members, sweep_dir)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=5)
    fig.suptitle("train (solid) and dev (dashed) loss per cell", fontsize=9)
    fig.tight_layout()
    fig.savefig(sweep_dir / LOSS_CURVES, dpi=90)
    return LOSS_CURVES
