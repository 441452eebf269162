"""Log-log ROC curves of membership attacks (the view Carlini et al. 2022 argue for: the
low-FPR corner is where an attack is dangerous)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fedsim.attacks.roc import roc_auc, roc_curve


def plot_log_roc(scores: dict[str, np.ndarray], is_member: np.ndarray, path: Path,
                 title: str) -> None:
    """One curve per attack in `scores`, with the chance diagonal, written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 0.5 / max(int((~is_member).sum()), 1)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, values in scores.items():
        curve = roc_curve(values, is_member)
        ax.plot(np.maximum(curve.fpr, floor), np.maximum(curve.tpr, floor),
                label=f"{name} (AUC {roc_auc(curve):.3f})")
    ax.plot([floor, 1], [floor, 1], "k--", linewidth=0.8, label="chance")
    ax.set(xscale="log", yscale="log", xlabel="false positive rate",
           ylabel="true positive rate", title=title, xlim=(floor, 1), ylim=(floor, 1))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
