"""Sample grids: a batch of images tiled into one picture, saved as PNG (and sent to
TensorBoard by the caller)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

PAD = 2  # pixels of border between tiles
MIN_TILE = 56  # tiles are upscaled (nearest neighbour) to at least this many pixels


def image_grid(images: torch.Tensor, columns: int) -> np.ndarray:
    """uint8 [H', W', C] grid of `images` [N, C, H, W] in [0, 1], `columns` per row."""
    n, channels, height, width = images.shape
    rows = -(-n // columns)
    scale = max(1, -(-MIN_TILE // height))
    tile_h, tile_w = height * scale, width * scale
    grid = np.full((rows * (tile_h + PAD) + PAD, columns * (tile_w + PAD) + PAD, channels),
                   255, dtype=np.uint8)
    pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        top, left = PAD + r * (tile_h + PAD), PAD + c * (tile_w + PAD)
        big = image.repeat(scale, axis=0).repeat(scale, axis=1)
        grid[top : top + tile_h, left : left + tile_w] = big
    return grid


def save_grid(path: Path, grid: np.ndarray) -> None:
    """Write a grid from `image_grid` as PNG (grayscale when it has one channel)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid).save(path)
