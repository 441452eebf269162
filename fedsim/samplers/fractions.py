"""How hard a set of triplets is: the fraction of easy, semi-hard and hard ones."""

from __future__ import annotations

import torch

from fedsim.losses.distances import pairwise_distances


def triplet_fractions(
    emb: torch.Tensor,
    labels: torch.Tensor,
    triplets: torch.Tensor,
    margin: float = 0.5,
    distance: str = "euclidean",
) -> dict[str, float]:
    """Fractions {"easy", "semi_hard", "hard"} of `triplets` [T, 3]; they sum to 1.

    With loss = max(0, margin + d(a,p) - d(a,n)) the three classes partition the triplets:
    easy ``d(a,p) + margin <= d(a,n)`` (loss 0, nothing to learn); hard ``d(a,n) < d(a,p)``
    (loss > margin); semi-hard in between (0 < loss <= margin). (The course notes print the
    easy inequality reversed; this is FaceNet's definition.) `labels` is accepted so every
    mining helper shares one signature; the triplets are trusted to be valid. No triplets
    gives all zeros.
    """
    if len(triplets) == 0:
        return {"easy": 0.0, "semi_hard": 0.0, "hard": 0.0}
    with torch.no_grad():
        d = pairwise_distances(emb.detach(), emb.detach(), distance)
    a, p, n = triplets.unbind(1)
    d_ap, d_an = d[a, p], d[a, n]
    hard = d_an < d_ap
    easy = d_an >= d_ap + margin
    semi = ~hard & ~easy
    total = len(triplets)
    return {
        "easy": easy.sum().item() / total,
        "semi_hard": semi.sum().item() / total,
        "hard": hard.sum().item() / total,
    }
