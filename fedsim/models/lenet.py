"""The LeNet variant of the DLG paper (Zhu et al. 2019): three strided 5x5 convolutions with
sigmoid activations, then one linear layer. Smooth activations make the gradient twice
differentiable everywhere, which gradient-inversion attacks need; weights start U(-0.5, 0.5)
as in DLG's code. Trains poorly: it exists to be attacked (fedsim attack --kind inversion).
"""

from __future__ import annotations

import torch
from torch import nn

from fedsim.models.cnn import MODELS


class LeNetSigmoid(nn.Module):
    """conv(5, stride 2) -> sigmoid -> conv(5, stride 2) -> sigmoid -> conv(5) -> sigmoid ->
    flatten (`embed`) -> linear (`head`)."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 12):
        super().__init__()
        channels, height, width_px = image_shape
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 5, padding=2, stride=2),
            nn.Sigmoid(),
            nn.Conv2d(width, width, 5, padding=2, stride=2),
            nn.Sigmoid(),
            nn.Conv2d(width, width, 5, padding=2, stride=1),
            nn.Sigmoid(),
            nn.Flatten(),
        )
        flat = width * _halved_twice(height) * _halved_twice(width_px)
        self.head = nn.Linear(flat, num_classes)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-0.5, 0.5)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened sigmoid features."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.embed(x))


def _halved_twice(side: int) -> int:
    """Output side after two stride-2 convolutions with padding 2 and kernel 5."""
    for _ in range(2):
        side = (side - 1) // 2 + 1
    return side


MODELS.register("lenet_sigmoid")(LeNetSigmoid)
