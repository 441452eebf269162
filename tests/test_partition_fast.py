"""The one-pass partition reader equals reading every partition through flwr-datasets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.config import DataSection
from fedsim.data.partition import _read_partition, read_partitions
from fedsim.data.partitioners import PARTITIONERS


def _plans(name: str, clients: int, seed: int, labels: np.ndarray):
    """Two identically configured partitioners over the same shuffled rows."""
    data = dataclasses.replace(
        DataSection(), partitioner=name, num_clients=clients, alpha=1.0, min_partition_size=1,
        classes_per_client=2, shards_per_client=2,
    )  # fmt: skip
    order = np.random.default_rng(seed).permutation(len(labels))
    columns = {"label": labels[order], "index": order}
    plans = []
    for _ in range(2):
        plan = PARTITIONERS.get(name)(data, seed, labels, None)
        plan.partitioner.dataset = Dataset.from_dict(columns)
        plans.append(plan.partitioner)
    return plans


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(["iid", "dirichlet", "pathological", "shard"]),
    clients=st.integers(1, 9),
    size=st.integers(60, 240),
    seed=st.integers(0, 2**16),
)
def test_fast_reader_equals_load_partition(name: str, clients: int, size: int, seed: int) -> None:
    labels = np.random.default_rng(seed + 1).integers(0, 4, size)
    fast, slow = _plans(name, clients, seed, labels)
    expected = [_read_partition(slow, i) for i in range(clients)]
    got = read_partitions(fast, clients)
    assert len(got) == clients
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
