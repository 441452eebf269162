"""privacy_utility.png and privacy_table.md: utility, MIA AUC and TPR at 0.1% FPR against
the target epsilon, one line per DP mechanism (record, user, user+secagg) and MIA target /
attack score; each line starts at epsilon = inf with the run without DP of the same
transport (fedsim.sweep.privacy_groups.BASELINE). Mean ± std over seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fedsim.sweep.privacy_groups import (
    BASELINE,
    INF,
    PrivacyGroup,
    privacy_groups,
    privacy_table,
)

PRIVACY_PLOT, PRIVACY_TABLE = "privacy_utility.png", "privacy_table.md"
STYLES = ("-", "--", ":", "-.")
Line = dict[float, PrivacyGroup]


def utility_metric(metrics: list[str]) -> str:
    """The utility column: the sweep's first dev metric (dev_accuracy when none)."""
    return next((m for m in metrics if m.startswith("dev_")), "dev_accuracy")


def privacy_lines(groups: list[PrivacyGroup]) -> dict[tuple[str, str, str], Line]:
    """Per (mechanism, MIA target, attack): its groups by target epsilon, the epsilon = inf
    point taken from the mechanism's baseline (the run without DP)."""
    by_key = {(g.mechanism, g.target, g.attack, g.epsilon): g for g in groups}
    lines: dict[tuple[str, str, str], Line] = {}
    for g in groups:
        if g.mechanism in BASELINE:
            lines.setdefault((g.mechanism, g.target, g.attack), {})[g.epsilon] = g
    for (mech, target, attack), line in lines.items():
        base = by_key.get((BASELINE[mech], target, attack, INF))
        if base is not None and INF not in line:
            line[INF] = base
    return lines


def _x_positions(lines: dict[tuple[str, str, str], Line]) -> dict[float, int]:
    """Epsilons from inf (left) down to the smallest (right), one tick each."""
    values = sorted({e for line in lines.values() for e in line}, reverse=True)
    return {e: i for i, e in enumerate(values)}


def _draw(axes: Any, lines: dict[tuple[str, str, str], Line], xs: dict[float, int]) -> None:
    mechs = sorted({k[0] for k in lines})
    kinds = sorted({k[1:] for k in lines})
    for (mech, target, attack), line in sorted(lines.items()):
        eps = sorted(line, reverse=True)
        style = dict(color=f"C{mechs.index(mech)}", ls=STYLES[kinds.index((target, attack))
                                                             % len(STYLES)],
                     marker="o", ms=3, capsize=2, label=f"{mech} ({target}, {attack})")
        for ax, field in zip(axes, ("utility", "auc", "tpr"), strict=True):
            values = [getattr(line[e], field) for e in eps]
            ax.errorbar([xs[e] for e in eps], [v[0] for v in values],
                        yerr=[v[1] for v in values], **style)


def plot_privacy_utility(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                         metrics: list[str]) -> str:
    """privacy_utility.png: three panels against epsilon; returns its file name."""
    utility = utility_metric(metrics)
    lines = privacy_lines(privacy_groups(rows, utility))
    xs = _x_positions(lines)
    fig = Figure(figsize=(13, 3.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    _draw(axes, lines, xs)
    titles = (utility, "MIA ROC AUC (0.5 = chance)", "MIA TPR at 0.1% FPR")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xticks(list(xs.values()), ["∞" if e == INF else f"{e:g}" for e in xs])
        ax.set_xlabel("target ε (∞ = no DP)", fontsize=8)
        ax.set_title(f"{title}, mean ± std over seeds", fontsize=9)
        ax.tick_params(labelsize=7)
    if lines:
        axes[1].axhline(0.5, color="grey", lw=0.8)
        axes[0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(sweep_dir / PRIVACY_PLOT, dpi=100)
    return PRIVACY_PLOT


def write_privacy_table(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                        metrics: list[str]) -> str:
    """privacy_table.md (appended to results.md by the runner); returns its file name."""
    utility = utility_metric(metrics)
    text = ("## Privacy, utility and membership inference\n\n"
            + privacy_table(privacy_groups(rows, utility), utility))
    (sweep_dir / PRIVACY_TABLE).write_text(text, encoding="utf-8")
    return PRIVACY_TABLE

