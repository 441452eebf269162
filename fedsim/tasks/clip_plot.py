"""The course's CLIP picture: given images and several texts, the similarity scores.

One row per image (its thumbnail at the left), one column per text; each cell is the
probability CLIP gives that text for that image (softmax over the row of
``exp(logit_scale) * cosine``), with the cosine similarity beneath it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import torch

THUMB_ZOOM = 1.2


def _thumbnail(image: np.ndarray) -> np.ndarray:
    """[C, H, W] in [0, 1] -> an array imshow takes (grey or RGB)."""
    return image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))


def plot_similarity(images: np.ndarray, texts: list[str], cosine: torch.Tensor,
                    logit_scale: float, path: Path, title: str) -> None:
    """Save the image x text probability heatmap to `path` (rows: images, columns: texts)."""
    from matplotlib.figure import Figure  # lazy: Ray actors import this module
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    probs = torch.softmax(np.exp(logit_scale) * cosine, dim=1).numpy()
    n, m = probs.shape
    fig = Figure(figsize=(2.0 + 1.05 * m, 1.6 + 0.75 * n))
    ax = fig.add_subplot()
    ax.imshow(probs, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for i in range(n):
        for j in range(m):
            color = "black" if probs[i, j] > 0.6 else "white"
            ax.text(j, i, f"{probs[i, j]:.0%}\n{float(cosine[i, j]):.2f}", ha="center",
                    va="center", fontsize=7, color=color)
        box = OffsetImage(_thumbnail(images[i]), zoom=THUMB_ZOOM,
                          cmap="gray" if images.shape[1] == 1 else None)
        ax.add_artist(AnnotationBbox(box, (-0.5, i), xybox=(-24, 0), xycoords="data",
                                     boxcoords="offset points", frameon=False))
    labels = [textwrap.shorten(t, 60, placeholder="…") for t in texts]
    ax.set_xticks(range(m), [textwrap.fill(t, 22) for t in labels], rotation=40, ha="right",
                  fontsize=8)
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    fig.subplots_adjust(left=0.12, bottom=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
