"""Multi-class N-pair loss (Sohn, 2016), with explicit negatives or in-batch negatives.

Embeddings are used as given (raw inner products, no normalisation), as in the paper, which
regularises their norm instead. Scale with `temperature` if needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fedsim.losses.base import check_reduction, reduce, register_loss


def npair(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negatives: torch.Tensor,
    temperature: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """N-pair loss with each anchor's own negatives: ``log(1 + sum_i exp((a·n_i - a·p)/T))``.

    Shapes: anchor, positive [N, D]; negatives [N, M, D] (M = N-1 negatives in the paper).
    Equal to softmax cross-entropy over logits ``[a·p, a·n_1, ..., a·n_M] / T`` with target 0.
    """
    check_reduction(reduction)
    pos = (anchor * positive).sum(-1, keepdim=True)
    neg = torch.einsum("nd,nmd->nm", anchor, negatives)
    logits = torch.cat([pos, neg], dim=1) / temperature
    return reduce(torch.logsumexp(logits, dim=1) - logits[:, 0], reduction)


def npair_in_batch(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    temperature: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """In-batch N-pair loss: anchor i's negatives are the other rows' positives (couples rows).

    Row i's loss is cross-entropy of logits ``anchors[i] · positives.T / T`` with target i.
    """
    check_reduction(reduction)
    logits = anchors @ positives.T / temperature
    target = torch.arange(len(anchors), device=anchors.device)
    return reduce(F.cross_entropy(logits, target, reduction="none"), reduction)


register_loss(npair, decomposable=True, inputs="anchor[N,D], positive[N,D], negatives[N,M,D]")
register_loss(npair_in_batch, decomposable=False, inputs="anchors[N,D], positives[N,D]")
