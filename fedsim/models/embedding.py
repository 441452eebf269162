"""Embedding networks for contrastive tasks: a registered backbone + a linear projection."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fedsim.models.cnn import MODELS


class Flat(nn.Module):
    """The identity backbone: features are the flattened input (a linear embedding model)."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 16):
        super().__init__()
        self.features_dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.head = nn.Linear(self.features_dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The input, flattened."""
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of a linear classifier (logistic regression)."""
        return self.head(self.embed(x))


MODELS.register("linear")(Flat)


def feature_dim(backbone: nn.Module, image_shape: tuple[int, int, int]) -> int:
    """Size of `backbone.embed` on one input of `image_shape`."""
    with torch.no_grad():
        return int(backbone.embed(torch.zeros(1, *image_shape)).shape[1])


class EmbeddingNet(nn.Module):
    """e(x) = normalize(W · backbone.embed(x)): what ranking losses train and kNN compares."""

    def __init__(self, backbone: nn.Module, image_shape: tuple[int, int, int], dim: int,
                 normalize: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.backbone.head = nn.Identity()  # the classification head is unused here
        self.project = nn.Linear(feature_dim(backbone, image_shape), dim)
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings [N, dim] (unit length when `normalize`)."""
        z = self.project(self.backbone.embed(x))
        return F.normalize(z, dim=1) if self.normalize else z
