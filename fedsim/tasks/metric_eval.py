"""Retrieval metrics of an embedding space: kNN accuracy, recall@k, N-way K-shot accuracy.

Pure functions of embeddings and labels, computed in query chunks so that a 10k test set
never needs a 10k x 10k matrix at once.
"""

from __future__ import annotations

import numpy as np
import torch

CHUNK = 1024


def distances(queries: torch.Tensor, keys: torch.Tensor, distance: str) -> torch.Tensor:
    """[Q, K] euclidean distances or cosine distances (1 - cos)."""
    if distance == "cosine":
        q = torch.nn.functional.normalize(queries, dim=1)
        k = torch.nn.functional.normalize(keys, dim=1)
        return 1.0 - q @ k.T
    return torch.cdist(queries, keys)


def neighbours(emb: torch.Tensor, k: int, distance: str) -> torch.Tensor:
    """Indices [N, k] of each point's k nearest other points (leave-one-out)."""
    out = []
    for start in range(0, len(emb), CHUNK):
        d = distances(emb[start : start + CHUNK], emb, distance)
        rows = torch.arange(start, min(start + CHUNK, len(emb)))
        d[rows - start, rows] = float("inf")  # a point is not its own neighbour
        out.append(d.topk(min(k, len(emb) - 1), dim=1, largest=False).indices)
    return torch.cat(out)


def knn_accuracy(emb: torch.Tensor, labels: torch.Tensor, k: int, distance: str) -> float:
    """Leave-one-out k-nearest-neighbour majority vote accuracy (ties: smallest label)."""
    votes = labels[neighbours(emb, k, distance)]
    counts = torch.nn.functional.one_hot(votes, int(labels.max()) + 1).sum(1)
    return float((counts.argmax(1) == labels).float().mean())


def recall_at_k(emb: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...], distance: str
                ) -> dict[int, float]:
    """Fraction of queries with a same-class item among their k nearest others."""
    hits = labels[neighbours(emb, max(ks), distance)] == labels[:, None]
    return {k: float(hits[:, :k].any(1).float().mean()) for k in ks}


def few_shot_accuracy(emb: torch.Tensor, labels: torch.Tensor, shots: int, episodes: int,
                      rng: np.random.Generator, distance: str, queries: int = 15) -> float:
    """N-way K-shot accuracy (N = classes present) by nearest class prototype, over episodes."""
    classes = [c for c in labels.unique().tolist() if int((labels == c).sum()) > shots]
    if len(classes) < 2:
        return float("nan")
    correct = total = 0
    for _ in range(episodes):
        protos, query_emb, query_lab = [], [], []
        for way, c in enumerate(classes):
            idx = rng.permutation(np.flatnonzero((labels == c).numpy()))
            protos.append(emb[idx[:shots]].mean(0))
            chosen = idx[shots : shots + queries]
            query_emb.append(emb[chosen])
            query_lab += [way] * len(chosen)
        predicted = distances(torch.cat(query_emb), torch.stack(protos), distance).argmin(1)
        correct += int((predicted == torch.tensor(query_lab)).sum())
        total += len(query_lab)
    return correct / total
