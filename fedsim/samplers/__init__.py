"""Triplet mining, P×K class-balanced batches and offline pair/triplet builders.

All randomness comes from a passed `torch.Generator` (miners) or `np.random.Generator`
(batches, offline tuples). Importing this package registers every miner in `MINERS`.
Every online miner couples examples: record-level DP must refuse them (see `base`).
"""

from __future__ import annotations

from fedsim.samplers.base import MINERS, Miner, MinerSpec, miner_couples
from fedsim.samplers.fractions import triplet_fractions
from fedsim.samplers.offline import make_pairs, make_triplets
from fedsim.samplers.online import (
    batch_all_triplets,
    batch_hard_triplets,
    hard_triplets,
    random_triplets,
    semi_hard_triplets,
)
from fedsim.samplers.pk import PKBatchSampler

__all__ = [
    "MINERS",
    "Miner",
    "MinerSpec",
    "PKBatchSampler",
    "batch_all_triplets",
    "batch_hard_triplets",
    "hard_triplets",
    "make_pairs",
    "make_triplets",
    "miner_couples",
    "random_triplets",
    "semi_hard_triplets",
    "triplet_fractions",
]
