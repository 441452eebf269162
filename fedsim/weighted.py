"""Example-weighted means of client metrics: Flower's aggregation hook and the round records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Reply fields that are identities, counts or costs, not metrics to average (either spelling).
BOOKKEEPING = frozenset({"node_id", "partition_id", "num_examples", "seconds", "steps",
                         "bytes_up", "bytes_down", "stage",
                         # DP accounting facts, per client (fedsim.privacy), not metrics
                         "dp_epsilon", "dp_noise_multiplier", "dp_sample_rate", "dp_steps",
                         "dp_total_steps", "dp_weight"})


def weighted_means(rows: Sequence[Mapping[str, Any]], weight_key: str) -> dict[str, float] | None:
    """Mean of every numeric metric all rows share, weighted by `weight_key`; None if no weight."""
    total = sum(float(row[weight_key]) for row in rows)
    if not rows or total == 0:
        return None
    shared = set.intersection(*(set(row) for row in rows))
    keys = sorted(k for k in shared if k.replace("-", "_") not in BOOKKEEPING
                  and all(isinstance(row[k], int | float) for row in rows))
    return {k: sum(float(row[k]) * float(row[weight_key]) for row in rows) / total for k in keys}
