"""Contrastive losses with ``reduction="none"|"mean"|"sum"`` and a registry saying which are
per-example decomposable (record-level DP needs that; see `fedsim.losses.base`).

Importing this package registers every built-in loss in `LOSSES` under its function name.
"""

from __future__ import annotations

from fedsim.losses.base import LOSSES, REDUCTIONS, LossSpec, is_decomposable, reduce
from fedsim.losses.contrastive import clip_loss, info_nce
from fedsim.losses.ddpm import ddpm_mse
from fedsim.losses.distances import DISTANCES, paired_distances, pairwise_distances
from fedsim.losses.margin import pairwise_margin, triplet_margin
from fedsim.losses.npair import npair, npair_in_batch

__all__ = [
    "DISTANCES",
    "LOSSES",
    "REDUCTIONS",
    "LossSpec",
    "clip_loss",
    "ddpm_mse",
    "info_nce",
    "is_decomposable",
    "npair",
    "npair_in_batch",
    "paired_distances",
    "pairwise_distances",
    "pairwise_margin",
    "reduce",
    "triplet_margin",
]
