"""Online triplet miners over one batch of embeddings [N, D] and integer labels [N].

Conditions use d = `pairwise_distances(emb, emb, distance)` on detached embeddings:
hard ``d(a,n) < d(a,p)``; semi-hard ``d(a,p) < d(a,n) < d(a,p) + margin``; positive loss
``d(a,n) < d(a,p) + margin``. A positive is another index with the same label. Batches with
one class or only singleton classes yield an empty [0, 3] tensor. All miners couple
examples (see `fedsim.samplers.base`).
"""

from __future__ import annotations

import torch

from fedsim.losses.distances import pairwise_distances
from fedsim.samplers.base import empty_triplets, label_masks, register_miner, require_generator


def _distances(
    emb: torch.Tensor, labels: torch.Tensor, distance: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distances [N, N] between detached embeddings, and the positive / negative masks."""
    with torch.no_grad():
        d = pairwise_distances(emb.detach(), emb.detach(), distance)
    pos, neg = label_masks(labels.to(emb.device))
    return d, pos, neg


def _grid(
    emb: torch.Tensor, labels: torch.Tensor, distance: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mask [N, N, N] of valid (a, p, n), and d(a, p), d(a, n) broadcastable to it."""
    d, pos, neg = _distances(emb, labels, distance)
    return pos[:, :, None] & neg[:, None, :], d[:, :, None], d[:, None, :]


def _one_negative_per_pair(cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each (a, p) with some n where cond[a, p, n], one such n uniformly at random."""
    a, p = cond.any(-1).nonzero(as_tuple=True)
    if len(a) == 0:
        return empty_triplets(cond.device)
    weights = cond[a, p].float().to(generator.device)
    n = torch.multinomial(weights, 1, generator=generator).squeeze(1).to(cond.device)
    return torch.stack([a, p, n], dim=1)


@register_miner("random", couples=True)
def random_triplets(
    emb: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
    generator: torch.Generator | None = None,
    *,
    per_anchor: int = 1,
) -> torch.Tensor:
    """`per_anchor` random (positive, negative) per anchor, ignoring distances and margin."""
    generator = require_generator(generator, "random")
    pos, neg = label_masks(labels.to(emb.device))
    anchors = (pos.any(1) & neg.any(1)).nonzero().squeeze(1)
    if len(anchors) == 0:
        return empty_triplets(emb.device)

    def draw(mask: torch.Tensor) -> torch.Tensor:
        weights = mask[anchors].float().to(generator.device)
        picks = torch.multinomial(weights, per_anchor, replacement=True, generator=generator)
        return picks.to(emb.device).reshape(-1)

    p, n = draw(pos), draw(neg)
    return torch.stack([anchors.repeat_interleave(per_anchor), p, n], dim=1)


@register_miner("hard", couples=True)
def hard_triplets(
    emb: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """For each anchor-positive pair, one random hard negative (d(a,n) < d(a,p))."""
    generator = require_generator(generator, "hard")
    valid, d_ap, d_an = _grid(emb, labels, distance)
    return _one_negative_per_pair(valid & (d_an < d_ap), generator)


@register_miner("semi_hard", couples=True)
def semi_hard_triplets(
    emb: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """For each anchor-positive pair, one random semi-hard negative (FaceNet)."""
    generator = require_generator(generator, "semi_hard")
    valid, d_ap, d_an = _grid(emb, labels, distance)
    return _one_negative_per_pair(valid & (d_ap < d_an) & (d_an < d_ap + margin), generator)


@register_miner("batch_hard", couples=True)
def batch_hard_triplets(
    emb: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per anchor, its farthest positive and nearest negative (Hermans et al., 2017)."""
    d, pos, neg = _distances(emb, labels, distance)
    anchors = (pos.any(1) & neg.any(1)).nonzero().squeeze(1)
    if len(anchors) == 0:
        return empty_triplets(emb.device)
    p = d.masked_fill(~pos, float("-inf"))[anchors].argmax(1)
    n = d.masked_fill(~neg, float("inf"))[anchors].argmin(1)
    return torch.stack([anchors, p, n], dim=1)


@register_miner("batch_all", couples=True)
def batch_all_triplets(
    emb: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Every valid triplet with positive loss (d(a,n) < d(a,p) + margin), in index order."""
    valid, d_ap, d_an = _grid(emb, labels, distance)
    return (valid & (d_an < d_ap + margin)).nonzero()
