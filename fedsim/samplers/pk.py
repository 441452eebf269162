"""Class-balanced P×K batches: P classes, K examples each (batch-hard mining needs them)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import torch


class PKBatchSampler:
    """Yields `num_batches` index arrays of P distinct classes × K examples, grouped by class.

    Classes are drawn without replacement; within a class, K examples are drawn without
    replacement. A class with fewer than K examples gives all of them, topped up with
    repeats drawn with replacement (miners never pair an index with itself). Each pass over
    the sampler continues the generator, so successive passes (epochs) differ; the same seed
    gives the same sequence. Usable as a DataLoader `batch_sampler`. A `torch.Generator` is
    accepted too: one draw from it seeds the numpy generator used for every batch.
    """

    def __init__(
        self,
        labels: npt.ArrayLike,
        p: int,
        k: int,
        generator: np.random.Generator | torch.Generator,
        num_batches: int,
    ) -> None:
        if isinstance(generator, torch.Generator):
            seed = torch.randint(2**62, (1,), generator=generator, device=generator.device)
            generator = np.random.default_rng(int(seed.item()))
        self.classes, inverse = np.unique(np.asarray(labels), return_inverse=True)
        if p < 1 or k < 1 or num_batches < 0:
            raise ValueError(f"need p >= 1, k >= 1, num_batches >= 0; got {p}, {k}, {num_batches}")
        if p > len(self.classes):
            raise ValueError(f"p={p} classes per batch but the labels hold {len(self.classes)}")
        self.members = [np.flatnonzero(inverse == c) for c in range(len(self.classes))]
        self.p, self.k, self.generator, self.num_batches = p, k, generator, num_batches

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[npt.NDArray[np.int64]]:
        for _ in range(self.num_batches):
            chosen = self.generator.choice(len(self.members), size=self.p, replace=False)
            yield np.concatenate([self._draw(self.members[c]) for c in chosen]).astype(np.int64)

    def _draw(self, members: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        if len(members) >= self.k:
            return self.generator.choice(members, size=self.k, replace=False)
        extra = self.generator.choice(members, size=self.k - len(members), replace=True)
        return self.generator.permutation(np.concatenate([members, extra]))
