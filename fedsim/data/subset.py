"""Training pools smaller than the training split: overfit studies and LiRA shadow splits.

With `data.train_examples = K` the federation trains only on K examples of the training
split: the first K of a fixed permutation (drawn from SUBSET_SEED, independent of the run
seed, like the splits). The next K examples of that permutation are never trained on: they
are the membership-inference non-members, so members and non-members come from the same
distribution. Together the first 2K are the attack's "population".

`data.shadow_split = s >= 1` trains a LiRA reference (shadow) federation instead: on half
of the population, drawn with seed (s + 1) // 2; an even s takes the complement of s - 1,
so with an even number of shadow splits each population example is in exactly half of them.
"""

from __future__ import annotations

import numpy as np

from fedsim.config import DataSection
from fedsim.errors import ConfigError

SUBSET_SEED = 7_919


def _order(num_train: int) -> np.ndarray:
    return np.random.default_rng(SUBSET_SEED).permutation(num_train)


def _check(data: DataSection, num_train: int) -> None:
    need = data.train_examples * (2 if data.shadow_split else 1)
    if data.shadow_split and not data.train_examples:
        raise ConfigError("data.shadow_split", "needs data.train_examples > 0 (the population "
                          "is the first 2 x train_examples examples); allowed: 0")
    if need > num_train:
        raise ConfigError("data.train_examples", f"{data.train_examples} is too many for "
                          f"{num_train} training examples; allowed: 0..{num_train // 2} "
                          f"(0..{num_train} without shadow splits)")


def population(num_train: int, train_examples: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool, held_out): sorted indices into train of the real federation's pool (first K of
    the fixed permutation) and of the K examples after them, never trained on."""
    order = _order(num_train)
    held_end = min(2 * train_examples, num_train)
    return np.sort(order[:train_examples]), np.sort(order[train_examples:held_end])


def training_pool(data: DataSection, num_train: int) -> np.ndarray | None:
    """Sorted indices into train that this run's clients share; None = the whole split."""
    if not data.train_examples:
        return None
    _check(data, num_train)
    k = data.train_examples
    if data.shadow_split == 0:
        return population(num_train, k)[0]
    draw = np.random.default_rng([SUBSET_SEED, (data.shadow_split + 1) // 2])
    chosen = np.zeros(2 * k, dtype=bool)
    chosen[draw.permutation(2 * k)[:k]] = True
    if data.shadow_split % 2 == 0:
        chosen = ~chosen
    return np.sort(_order(num_train)[: 2 * k][chosen])
