"""The in-memory containers every data consumer sees: image arrays and their client shards.

Arrays are made read-only on construction because loaded data is cached per process and
shared by every run in it; copy (`np.array(ds.x)`, `torch.tensor(ds.x)`) before mutating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArrayDataset:
    """Images `x` (float32 [N, C, H, W] in [0, 1]) with integer labels `y` (int64 [N]).

    Text data sets hold int64 [N, L] rows of word ids instead (see `fedsim.data.text`).
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        images = self.x.dtype == np.float32 and self.x.ndim == 4
        words = self.x.dtype == np.int64 and self.x.ndim == 2
        if not (images or words):
            raise ValueError(
                f"x must be float32 [N, C, H, W] or int64 [N, L], got {self.x.dtype} {self.x.shape}"
            )
        if self.y.dtype != np.int64 or self.y.shape != self.x.shape[:1]:
            raise ValueError(f"y must be int64 [{len(self.x)}], got {self.y.dtype} {self.y.shape}")
        # C order always: a channels-last array would make torch pick other conv kernels and
        # change the floats, so the same data must have the same memory layout on every path.
        object.__setattr__(self, "x", np.ascontiguousarray(self.x))
        object.__setattr__(self, "y", np.ascontiguousarray(self.y))
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
    words: tuple[str, ...] = ()  # text data sets: the word of each id in x (all splits)
    heldout: ArrayDataset | None = None  # text: units of clients never in training

    @property
    def num_clients(self) -> int:
        """Number of client shards."""
        return len(self.partitions)

    def client_data(self, client: int) -> ArrayDataset:
        """The training examples of client `client`."""
        return self.train.subset(self.partitions[client])
