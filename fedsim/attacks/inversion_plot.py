"""Originals above their gradient-inversion reconstructions, one column per image."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def plot_reconstructions(original: torch.Tensor, recon: torch.Tensor, path: Path,
                         title: str, row_labels: tuple[str, str] = ("original", "reconstructed")
                         ) -> None:
    """Save a 2-row grid of images [N, C, H, W] in [0, 1] (grey for one channel)."""
    n = len(original)
    fig, axes = plt.subplots(2, n, figsize=(max(4.5, 1.4 * n + 1.2), 3.2), squeeze=False)
    for row, images in enumerate((original, recon)):
        for col in range(n):
            ax = axes[row][col]
            img = images[col].clamp(0, 1).permute(1, 2, 0).numpy()
            ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(row_labels[row], fontsize=8)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_sweep(pairs: list[tuple[torch.Tensor, torch.Tensor, str]], path: Path) -> None:
    """One row per setting: the original image, its reconstruction, the setting's label."""
    fig, axes = plt.subplots(len(pairs), 2, figsize=(3.6, 1.5 * len(pairs)), squeeze=False)
    for row, (original, recon, label) in enumerate(pairs):
        for col, img in enumerate((original, recon)):
            ax = axes[row][col]
            pixels = img.clamp(0, 1).permute(1, 2, 0).numpy()
            ax.imshow(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels, cmap="gray",
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(label, fontsize=6)
    axes[0][0].set_title("original", fontsize=8)
    axes[0][1].set_title("reconstructed", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
