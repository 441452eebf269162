"""2-D PCA picture of an embedding space: one colour per class, held-out classes as crosses."""

from __future__ import annotations

from pathlib import Path

import torch

# matplotlib is imported where a picture is drawn: clients (Ray actors) never draw, and
# importing it costs each client process ~0.5 s.

MAX_POINTS = 3000


def pca_2d(emb: torch.Tensor) -> torch.Tensor:
    """Projection of `emb` [N, D] on its two leading principal axes (sign fixed)."""
    centered = emb - emb.mean(0)
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    axes = v[:2].T
    axes = axes * torch.sign(axes[axes.abs().argmax(0), torch.arange(axes.shape[1])])
    return centered @ axes


def plot_embedding(emb: torch.Tensor, labels: torch.Tensor, class_names: tuple[str, ...],
                   heldout: tuple[int, ...], path: Path, title: str) -> None:
    """Save the PCA scatter of (at most MAX_POINTS) embeddings to `path`."""
    import matplotlib
    from matplotlib.figure import Figure

    emb, labels = emb[:MAX_POINTS], labels[:MAX_POINTS]
    points = pca_2d(emb.double()).numpy()
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["tab10"]
    for c in sorted(set(labels.tolist())):
        mask = (labels == c).numpy()
        name = class_names[c] if c < len(class_names) else str(c)
        marker = "x" if c in heldout else "o"
        ax.scatter(points[mask, 0], points[mask, 1], s=8, marker=marker, alpha=0.6,
                   color=cmap(c % 10), label=name + (" (held out)" if c in heldout else ""))
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, markerscale=2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
