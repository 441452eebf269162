"""Who is a member: balanced, disjoint, seeded member / non-member sets of a run's data.

Members are training examples of the attacked party (the whole federation, or one client).
Non-members come from the same distribution and were never trained on: with
`data.train_examples = K` the K held-out examples after the pool (see fedsim.data.subset),
else the training examples no client holds, else the central test split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedsim.data import ArrayDataset, FederatedData
from fedsim.data.subset import population

NOT_IN_TRAIN = -1


@dataclass(frozen=True)
class EvalSet:
    """The examples an attack scores: `data` row i is a member iff `is_member[i]`;
    `train_index[i]` is its index into the training split (NOT_IN_TRAIN for test rows)."""

    data: ArrayDataset
    is_member: np.ndarray
    train_index: np.ndarray
    non_member_source: str  # "held-out training examples" or "test split"


def _never_trained(data: FederatedData, train_examples: int) -> tuple[np.ndarray, str]:
    """Indices of non-member candidates, and which split they index ("train" or "test")."""
    if train_examples:
        return population(len(data.train), train_examples)[1], "train"
    held = np.setdiff1d(np.arange(len(data.train)), np.concatenate(data.partitions))
    return (held, "train") if len(held) else (np.arange(len(data.test)), "test")


def membership_sets(data: FederatedData, members_pool: np.ndarray, train_examples: int,
                    count: int, rng: np.random.Generator) -> EvalSet:
    """`n` members drawn from `members_pool` (indices into train) and `n` non-members never
    trained on, n = min(count, both pool sizes); members first, then non-members."""
    candidates, split = _never_trained(data, train_examples)
    n = min(count, len(members_pool), len(candidates))
    if n < 1:
        raise ValueError("no members or no non-members to attack")
    members = np.sort(rng.choice(members_pool, n, replace=False))
    outsiders = np.sort(rng.choice(candidates, n, replace=False))
    source = data.train if split == "train" else data.test
    x = np.concatenate([data.train.x[members], source.x[outsiders]])
    y = np.concatenate([data.train.y[members], source.y[outsiders]])
    index = np.r_[members, outsiders if split == "train" else np.full(n, NOT_IN_TRAIN)]
    return EvalSet(ArrayDataset(x, y), np.r_[np.ones(n, bool), np.zeros(n, bool)], index,
                   "held-out training examples" if split == "train" else "test split")


def federation_members(data: FederatedData) -> np.ndarray:
    """Every training example some client holds (sorted indices into train)."""
    return np.unique(np.concatenate(data.partitions))
