"""Distances shared by the losses and the miners, so both agree on which triplet is which.

euclidean: ``||x - y + eps||_2`` with eps = 1e-6, torch's `pairwise_distance` convention.
It makes `triplet_margin` equal `F.triplet_margin_loss` bit for bit, and the shift keeps the
norm away from 0 when x == y, so the gradient stays finite there.
cosine: ``1 - cos(x, y)`` on L2-normalised vectors, in [0, 2].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DISTANCES = ("euclidean", "cosine")
EPS = 1e-6


def check_distance(distance: str) -> None:
    """Raise ValueError unless `distance` is "euclidean" or "cosine"."""
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {', '.join(DISTANCES)}; got {distance!r}")


def paired_distances(x: torch.Tensor, y: torch.Tensor, distance: str) -> torch.Tensor:
    """Row-wise distances d(x[i], y[i]) for x, y of shape [..., D]; returns [...]."""
    check_distance(distance)
    if distance == "euclidean":
        return F.pairwise_distance(x, y, p=2.0, eps=EPS)
    return 1.0 - (F.normalize(x, dim=-1) * F.normalize(y, dim=-1)).sum(-1)


def pairwise_distances(x: torch.Tensor, y: torch.Tensor, distance: str) -> torch.Tensor:
    """All distances d(x[i], y[j]) for x [N, D], y [M, D]; returns [N, M].

    Both broadcast over [N, M, D] (memory O(N·M·D), fine for mining batches) so that each
    entry equals `paired_distances` on that pair bit for bit: miners, `triplet_fractions` and
    the losses then agree on which side of a margin a triplet lies. A Gram-matrix form would
    be cheaper but rounds differently (and loses precision for close points).
    """
    check_distance(distance)
    if distance == "euclidean":
        return torch.linalg.vector_norm(x[:, None, :] - y[None, :, :] + EPS, dim=-1)
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    return 1.0 - (x[:, None, :] * y[None, :, :]).sum(-1)
