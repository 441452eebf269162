"""Fixed train/dev/test splits, the same for every run seed, with no image in two splits.

Exact-duplicate images (equal float32 bytes) are dropped first, keeping the first
occurrence, so no image content is shared between splits. Sources without an official test
set are cut 70/15/15 by a permutation drawn from SPLIT_SEED; sources with one keep it as
`test` and cut a fixed 10% of the official training set off as `dev`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Set

import numpy as np

from fedsim.data.sources import DATASETS, check_available
from fedsim.data.types import ArrayDataset

SPLIT_SEED = 1_797  # constant on purpose: splits never depend on the run seed
TRAIN_PERCENT, DEV_PERCENT = 70, 15  # pools without an official test set (test = the rest)
DEV_PERCENT_OF_OFFICIAL_TRAIN = 10


def image_hashes(x: np.ndarray) -> list[bytes]:
    """sha256 digest of each image's float32 bytes (row i of `x`)."""
    images = np.ascontiguousarray(x, dtype=np.float32)
    return [hashlib.sha256(image.tobytes()).digest() for image in images]


def first_unique(hashes: list[bytes], exclude: Set[bytes] = frozenset()) -> np.ndarray:
    """Indices of the first occurrence of each hash, skipping hashes in `exclude`."""
    seen = set(exclude)
    keep = []
    for i, digest in enumerate(hashes):
        if digest not in seen:
            seen.add(digest)
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def _dedupe(data: ArrayDataset, exclude: Set[bytes] = frozenset()) -> ArrayDataset:
    """`data` without repeated images and without images whose hash is in `exclude`."""
    keep = first_unique(image_hashes(data.x), exclude)
    return data if len(keep) == len(data) else data.subset(keep)


def _cut(pool: ArrayDataset, percents: tuple[int, ...]) -> list[ArrayDataset]:
    """`pool` cut by a SPLIT_SEED permutation into len(percents) + 1 parts (last = rest)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pool))
    bounds = np.cumsum([len(pool) * percent // 100 for percent in percents])
    return [pool.subset(part) for part in np.split(order, bounds)]


def split_pool(
    pool: ArrayDataset, official_test: ArrayDataset | None
) -> tuple[ArrayDataset, ArrayDataset, ArrayDataset]:
    """(train, dev, test) of a source's pool and official test set, as the module doc says."""
    if official_test is None:
        train, dev, test = _cut(_dedupe(pool), (TRAIN_PERCENT, DEV_PERCENT))
        return train, dev, test
    test = _dedupe(official_test)
    dev, train = _cut(
        _dedupe(pool, exclude=set(image_hashes(test.x))), (DEV_PERCENT_OF_OFFICIAL_TRAIN,)
    )
    return train, dev, test


@functools.cache
def load_splits(
    name: str,
) -> tuple[ArrayDataset, ArrayDataset, ArrayDataset, tuple[str, ...]]:
    """(train, dev, test, class_names) of data set `name`; read once per process."""
    check_available(name)
    source = DATASETS.get(name)
    return (*split_pool(*source.load()), source.class_names)
