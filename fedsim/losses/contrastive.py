"""InfoNCE and the symmetric CLIP loss: every other row of the batch is a negative.

Both L2-normalise their inputs (cosine similarity), as SimCLR/MoCo and CLIP do, so the only
scale is the temperature. Both couple examples: row i's loss reads every row's embedding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fedsim.losses.base import check_reduction, reduce, register_loss


def _cosine_logits(x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    return scale * (F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T)


def info_nce(
    queries: torch.Tensor,
    keys: torch.Tensor,
    temperature: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    """InfoNCE: row i's positive is keys[i], all other keys are its negatives.

    Row i's loss is cross-entropy of ``cos(queries[i], keys) / temperature`` with target i.
    """
    check_reduction(reduction)
    logits = _cosine_logits(queries, keys, 1.0 / temperature)
    target = torch.arange(len(queries), device=queries.device)
    return reduce(F.cross_entropy(logits, target, reduction="none"), reduction)


def clip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    logit_scale: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """Symmetric CLIP loss over ``logit_scale.exp() * cos(image, text)``.

    `logit_scale` is the learnable log inverse-temperature (CLIP starts it at log(1/0.07)).
    Pair i's loss is the mean of its image->text and text->image cross-entropies, so the
    "mean" reduction is CLIP's (CE_image + CE_text) / 2.
    """
    check_reduction(reduction)
    logits = _cosine_logits(image_emb, text_emb, logit_scale.exp())
    target = torch.arange(len(image_emb), device=image_emb.device)
    per_image = F.cross_entropy(logits, target, reduction="none")
    per_text = F.cross_entropy(logits.T, target, reduction="none")
    return reduce((per_image + per_text) / 2, reduction)


register_loss(info_nce, decomposable=False, inputs="queries[N,D], keys[N,D]")
register_loss(clip_loss, decomposable=False, inputs="image_emb[N,D], text_emb[N,D], logit_scale[]")
