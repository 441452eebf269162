"""Shards read back from the partition cache are the shards flwr-datasets cuts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from fedsim.config import DataSection
from fedsim.data import partition as partition_module
from fedsim.data.partition import partition_indices
from fedsim.errors import ConfigError


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEDSIM_CACHE_DIR", str(tmp_path))
    return tmp_path / "partitions"


def _labels(n: int = 600, classes: int = 10) -> np.ndarray:
    return np.random.default_rng(3).integers(0, classes, n)


def _data(**changes) -> DataSection:
    return dataclasses.replace(DataSection(), dataset="digits", num_clients=7, **changes)


def _cut_count(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    cut = partition_module._cut
    monkeypatch.setattr(partition_module, "_cut", lambda *a: calls.append(1) or cut(*a))
    return calls


@pytest.mark.parametrize("partitioner", ["iid", "dirichlet", "pathological"])
def test_a_cache_hit_returns_exactly_the_cut_shards(cache: Path, partitioner: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _cut_count(monkeypatch)
    data = _data(partitioner=partitioner)
    first = partition_indices(_labels(), data, seed=5)
    again = partition_indices(_labels(), data, seed=5)
    assert calls == [1], "the second call must be served from the cache"
    assert len(list(cache.glob("*.npz"))) == 1
    assert len(again) == len(first) == 7
    for a, b in zip(first, again, strict=True):
        assert a.dtype == b.dtype == np.int64
        np.testing.assert_array_equal(a, b)


def test_any_input_change_misses(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _cut_count(monkeypatch)
    labels = _labels()
    partition_indices(labels, _data(partitioner="dirichlet"), seed=5)
    partition_indices(labels, _data(partitioner="dirichlet"), seed=6)  # seed
    partition_indices(labels, _data(partitioner="dirichlet", alpha=0.1), seed=5)  # setting
    changed = labels.copy()
    changed[0] = (changed[0] + 1) % 10
    partition_indices(changed, _data(partitioner="dirichlet"), seed=5)  # labels
    assert len(calls) == 4 and len(list(cache.glob("*.npz"))) == 4


def test_a_corrupt_cache_file_is_cut_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = partition_indices(_labels(), _data(), seed=1)
    (path,) = cache.glob("*.npz")
    path.write_bytes(b"not a zip file")
    calls = _cut_count(monkeypatch)
    again = partition_indices(_labels(), _data(), seed=1)
    assert calls == [1]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_errors_are_not_cached(cache: Path) -> None:
    data = _data(partitioner="dirichlet", alpha=0.001, min_partition_size=0)
    with pytest.raises(ConfigError):
        partition_indices(_labels(40, 2), dataclasses.replace(data, num_clients=30), seed=0)
    assert not list(cache.glob("*.npz"))
