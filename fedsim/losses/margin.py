"""Siamese (pairwise) and triplet margin losses; each term reads only its own fixed tuple."""

from __future__ import annotations

import torch

from fedsim.losses.base import check_reduction, reduce, register_loss
from fedsim.losses.distances import paired_distances


def pairwise_margin(
    a: torch.Tensor,
    b: torch.Tensor,
    same: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
    reduction: str = "mean",
    squared: bool = False,
) -> torch.Tensor:
    """Siamese loss: pull same-class pairs together, push others beyond `margin`.

    Per pair i, with d = d(a[i], b[i]): ``d`` if same[i] else ``max(0, margin - d)`` (course
    notes). ``squared=True`` gives Hadsell et al. (2006) without their 1/2:
    ``d**2`` or ``max(0, margin - d)**2``.

    With ``distance="cosine"`` (d = 1 - cos) this is ``nn.CosineEmbeddingLoss(margin=1 -
    margin)`` with targets ``y = 2 * same - 1``: y=1 gives 1 - cos = d, y=-1 gives
    max(0, cos - (1 - margin)) = max(0, margin - d).
    """
    check_reduction(reduction)
    d = paired_distances(a, b, distance)
    pos, neg = d, (margin - d).clamp_min(0)
    if squared:
        pos, neg = pos.square(), neg.square()
    return reduce(torch.where(same.bool(), pos, neg), reduction)


def triplet_margin(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
    reduction: str = "mean",
) -> torch.Tensor:
    """Triplet loss ``max(0, margin + d(a, p) - d(a, n))`` per triplet.

    Euclidean equals ``F.triplet_margin_loss(..., margin=margin, p=2, eps=1e-6)`` exactly
    (same eps-shifted distance, see `fedsim.losses.distances`). Note the default margin
    here is 0.5, torch's is 1.0.
    """
    check_reduction(reduction)
    d_ap = paired_distances(anchor, positive, distance)
    d_an = paired_distances(anchor, negative, distance)
    return reduce((margin + d_ap - d_an).clamp_min(0), reduction)


register_loss(pairwise_margin, decomposable=True, inputs="a[N,D], b[N,D], same[N]:bool")
register_loss(triplet_margin, decomposable=True, inputs="anchor[N,D], positive[N,D], negative[N,D]")
