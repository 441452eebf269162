"""Offline pair and triplet builders: fixed tuples drawn once from a labelled dataset.

Each tuple can serve as one DP record (the losses over it are decomposable), but the same
example may appear in several tuples, so record-level DP then protects tuples, not examples.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch


class _ClassBlocks:
    """Examples sorted by label, to draw a same-class partner or an other-class example."""

    def __init__(self, labels: npt.ArrayLike) -> None:
        array = np.asarray(labels)
        self.order = np.argsort(array, kind="stable")
        _, self.start, self.count = np.unique(
            array[self.order], return_index=True, return_counts=True
        )
        rank = np.empty(len(array), dtype=np.int64)
        rank[self.order] = np.arange(len(array))
        self.block = np.searchsorted(self.start, rank, side="right") - 1
        self.rank = rank - self.start[self.block]
        self.n = len(array)

    def class_size(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return self.count[self.block[idx]]

    def anchors(self, rng: np.random.Generator, size: int, positive: bool) -> np.ndarray:
        """Uniform anchors that have a same-class partner (positive) or an other-class one."""
        sizes = self.class_size(np.arange(self.n))
        eligible = np.flatnonzero(sizes >= 2 if positive else sizes < self.n)
        if size > 0 and len(eligible) == 0:
            need = "a class with two examples" if positive else "two classes"
            raise ValueError(f"cannot draw {'positive' if positive else 'negative'}s: need {need}")
        return rng.choice(eligible, size=size) if size > 0 else eligible[:0]

    def positives(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """A same-class example other than idx itself, uniformly."""
        r = rng.integers(0, self.class_size(idx) - 1)
        r += r >= self.rank[idx]
        return self.order[self.start[self.block[idx]] + r]

    def negatives(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """An example of another class, uniformly."""
        r = rng.integers(0, self.n - self.class_size(idx))
        r += self.class_size(idx) * (r >= self.start[self.block[idx]])
        return self.order[r]


def make_pairs(
    labels: npt.ArrayLike,
    num_pairs: int,
    rng: np.random.Generator,
    positive_fraction: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`num_pairs` index pairs (i, j) and `same` (bool), round(num_pairs * positive_fraction)
    of them same-class with i != j, the rest different-class, in shuffled order."""
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in [0, 1]; got {positive_fraction}")
    blocks = _ClassBlocks(labels)
    num_pos = round(num_pairs * positive_fraction)
    a_pos = blocks.anchors(rng, num_pos, positive=True)
    a_neg = blocks.anchors(rng, num_pairs - num_pos, positive=False)
    i = np.concatenate([a_pos, a_neg])
    j = np.concatenate([blocks.positives(rng, a_pos), blocks.negatives(rng, a_neg)])
    same = np.arange(num_pairs) < num_pos
    perm = rng.permutation(num_pairs)
    return (
        torch.as_tensor(i[perm], dtype=torch.long),
        torch.as_tensor(j[perm], dtype=torch.long),
        torch.as_tensor(same[perm]),
    )


def make_triplets(
    labels: npt.ArrayLike, num_triplets: int, rng: np.random.Generator
) -> torch.Tensor:
    """`num_triplets` rows (anchor, positive, negative): uniform anchor among examples with a
    same-class partner, uniform partner, uniform other-class negative."""
    blocks = _ClassBlocks(labels)
    anchors = blocks.anchors(rng, num_triplets, positive=True)
    if num_triplets > 0 and len(blocks.count) < 2:
        raise ValueError("cannot draw negatives: need two classes")
    rows = [anchors, blocks.positives(rng, anchors), blocks.negatives(rng, anchors)]
    return torch.as_tensor(np.stack(rows, axis=1), dtype=torch.long).reshape(-1, 3)
