"""The in-memory containers every data consumer sees: image arrays and their client shards.

Arrays are made read-only on construction because loaded data is cached per process and
shared by every run in it; copy (`np.array(ds.x)`, `torch.tensor(ds.x)`) before mutating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArrayDataset:
    """Images `x` (float32 [N, C, H, W] in [0, 1]) with integer labels `y` (int64 [N])."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.dtype != np.float32 or self.x.ndim != 4:
            raise ValueError(f"x must be float32 [N, C, H, W], got {self.x.dtype} {self.x.shape}")
        if self.y.dtype != np.int64 or self.y.shape != self.x.shape[:1]:
            raise ValueError(f"y must be int64 [{len(self.x)}], got {self.y.dtype} {self.y.shape}")
        self.x.setflags(write=False)
        self.y.setflags(write=False)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, indices: np.ndarray) -> ArrayDataset:
        """The examples at `indices`, in that order (a copy)."""
        return ArrayDataset(self.x[indices], self.y[indices])


@dataclass(frozen=True)
class FederatedData:
    """Fixed train/dev/test splits of one data set plus the run's client shards of `train`.

    `partitions[i]` holds the (sorted, int64) indices into `train` of client i; shards are
    disjoint, but some partitioners leave a few training examples unassigned (see
    `fedsim.data.partition`). `dev` and `test` are central and never partitioned.
    """

    name: str
    train: ArrayDataset
    dev: ArrayDataset
    test: ArrayDataset
    partitions: tuple[np.ndarray, ...]
    num_classes: int
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]

    @property
    def num_clients(self) -> int:
        """Number of client shards."""
        return len(self.partitions)

    def client_data(self, client: int) -> ArrayDataset:
        """The training examples of client `client`."""
        return self.train.subset(self.partitions[client])
