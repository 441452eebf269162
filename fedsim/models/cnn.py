"""Small image encoders with a classification head, sized for CPU federations.

GroupNorm instead of BatchNorm: no running statistics to aggregate, and every example's
gradient is independent of the others in its batch (DP-SGD needs that).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fedsim.registry import Registry

ModelFactory = Callable[[tuple[int, int, int], int, int], nn.Module]
MODELS: Registry[ModelFactory] = Registry("model", "task.model")


def _groups(channels: int) -> int:
    return min(8, channels)


class SmallCNN(nn.Module):
    """Two conv blocks (conv -> GroupNorm -> ReLU -> 2x2 pool), then a 64-unit hidden layer."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 16):
        super().__init__()
        channels, height, width_px = image_shape
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.GroupNorm(_groups(width), width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.GroupNorm(_groups(2 * width), 2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        flat = 2 * width * (height // 4) * (width_px // 4)
        self.embedding = nn.Sequential(nn.Linear(flat, 64), nn.ReLU())
        self.head = nn.Linear(64, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (64-d)."""
        return self.embedding(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.embed(x))


class SmallMLP(nn.Module):
    """Flatten -> hidden layer -> logits; the cheapest model, for engine benchmarks."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 16):
        super().__init__()
        inputs = image_shape[0] * image_shape[1] * image_shape[2]
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(inputs, 4 * width), nn.ReLU())
        self.head = nn.Linear(4 * width, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden-layer features."""
        return self.embedding(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.embed(x))


MODELS.register("cnn")(SmallCNN)
MODELS.register("mlp")(SmallMLP)
