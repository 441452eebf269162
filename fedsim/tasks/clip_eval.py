"""Image-text metrics: zero-shot classification and cross-modal recall@k.

Pure functions of embeddings and labels. Image i and text j match when their labels are
equal, so one text can match many images (a class prompt and its photos) and vice versa.
Similarity is the cosine, as in training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[len(a), len(b)] cosine similarities."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def zero_shot_accuracy(image_emb: torch.Tensor, labels: torch.Tensor,
                       class_emb: torch.Tensor, class_ids: torch.Tensor) -> float:
    """Fraction of images whose most similar class text (row of `class_emb`, whose class is
    `class_ids[row]`) is their own class."""
    predicted = class_ids[cosine(image_emb, class_emb).argmax(1)]
    return float((predicted == labels).float().mean())


def _recall(sim: torch.Tensor, query_labels: torch.Tensor, key_labels: torch.Tensor,
            ks: tuple[int, ...]) -> dict[int, float]:
    """Fraction of queries (rows) with a matching key among their k most similar keys."""
    top = sim.topk(min(max(ks), sim.shape[1]), dim=1).indices
    hits = key_labels[top] == query_labels[:, None]
    return {k: float(hits[:, :k].any(1).float().mean()) for k in ks}


def retrieval_recall(image_emb: torch.Tensor, image_labels: torch.Tensor,
                     text_emb: torch.Tensor, text_labels: torch.Tensor,
                     ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Image->text and text->image recall@k: ``i2t_recall_at_k`` and ``t2i_recall_at_k``."""
    sim = cosine(image_emb, text_emb)
    i2t = _recall(sim, image_labels, text_labels, ks)
    t2i = _recall(sim.T, text_labels, image_labels, ks)
    return {**{f"i2t_recall_at_{k}": v for k, v in i2t.items()},
            **{f"t2i_recall_at_{k}": v for k, v in t2i.items()}}
