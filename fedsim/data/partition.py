"""Client shards of a training set: `partition_indices`, and their label histograms."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from fedsim.config import DataSection
from fedsim.data.partition_cache import cached_partitions, partition_key
from fedsim.data.partitioners import PARTITIONERS
from fedsim.errors import ConfigError

if TYPE_CHECKING:  # `datasets` and flwr-datasets take ~3 s to import: only where we partition
    from flwr_datasets.partitioner import Partitioner


def partition_indices(
    labels: np.ndarray, data: DataSection, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Disjoint, sorted int64 index arrays into `labels`, one per client (`data.num_clients`).

    The `data.partitioner` of flwr-datasets cuts them; rows are shuffled with `seed` first,
    so the same seed gives the same shards. `groups` are natural client ids (one per
    example) for the "natural" partitioner. A configuration that cannot be met, or that
    leaves a client with no examples, is a ConfigError naming the key to change. Shards
    once cut are read back from fedsim's cache (fedsim.data.partition_cache).
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    PARTITIONERS.get(data.partitioner)  # an unknown name is a ConfigError before any work
    if not 1 <= data.num_clients <= len(labels):
        raise ConfigError(
            "data.num_clients",
            f"{data.num_clients} clients cannot share {len(labels)} training examples; "
            f"allowed: 1..{len(labels)}",
        )
    if groups is not None and len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries for {len(labels)} labels")
    key = partition_key(labels, data, seed, groups)
    return cached_partitions(key, lambda: _cut(labels, data, seed, groups))


def _cut(labels: np.ndarray, data: DataSection, seed: int,
         groups: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The shards as flwr-datasets' partitioner cuts them (see `partition_indices`)."""
    from datasets import Dataset

    build = PARTITIONERS.get(data.partitioner)
    plan = build(data, seed, labels, groups)
    order = np.random.default_rng(seed).permutation(len(labels))
    columns = {"label": labels[order], "index": order}
    if groups is not None:
        columns["group"] = np.asarray(groups)[order]
    plan.partitioner.dataset = Dataset.from_dict(columns)
    with warnings.catch_warnings():  # retries and unused classes: the checks below report
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)  # pyarrow sort options, in shard
        try:
            parts = read_partitions(plan.partitioner, data.num_clients)
        except ValueError as err:
            raise ConfigError(plan.key, f"{data.partitioner}: {err} {plan.hint}".strip()) from None
    _reject_empty(parts, data, plan.key)
    return parts


def read_partitions(partitioner: Partitioner, num_clients: int) -> tuple[np.ndarray, ...]:
    """Every client's sorted "index" column, in one pass where the partitioner allows.

    `load_partition` builds an Arrow dataset per call (~4 ms: 7 min for 100k clients), so:
    IidPartitioner's shards are `Dataset.shard(contiguous=True)` slices, cut here with the
    same arithmetic; the label-based partitioners compute their whole id -> rows map on the
    first `load_partition` and only `select` afterwards, so that map is read directly. Any
    other partitioner (natural ids) is read partition by partition. tests/test_partition_fast
    checks each fast path against `load_partition` exactly.
    """
    from flwr_datasets.partitioner import IidPartitioner

    if isinstance(partitioner, IidPartitioner):
        order = _index_column(partitioner)
        return tuple(np.sort(order[a:b]) for a, b in _contiguous_shards(len(order), num_clients))
    first = _read_partition(partitioner, 0)  # validates, and builds the id -> rows map
    mapping = getattr(partitioner, "_partition_id_to_indices", None)
    if not isinstance(mapping, dict) or len(mapping) != num_clients:
        rest = (_read_partition(partitioner, i) for i in range(1, num_clients))
        return (first, *rest)
    order = _index_column(partitioner)  # after any re-sorting the partitioner did
    return tuple(np.sort(order[np.asarray(mapping[i], dtype=np.int64)]) for i in range(num_clients))


def _contiguous_shards(size: int, num_shards: int) -> list[tuple[int, int]]:
    """[start, end) of each shard of `Dataset.shard(num_shards, i, contiguous=True)`."""
    div, mod = divmod(size, num_shards)
    starts = [div * i + min(i, mod) for i in range(num_shards)]
    return [(a, a + div + (1 if i < mod else 0)) for i, a in enumerate(starts)]


def _index_column(partitioner: Partitioner) -> np.ndarray:
    """The partitioner's dataset's "index" column, as int64."""
    return partitioner.dataset.with_format("arrow")["index"].to_numpy().astype(np.int64)


def _read_partition(partitioner: Partitioner, client: int) -> np.ndarray:
    """The sorted "index" column of one partition (read as Arrow: 20x faster than a list)."""
    rows = partitioner.load_partition(client).with_format("arrow")
    return np.sort(rows["index"].to_numpy().astype(np.int64))


def _reject_empty(parts: tuple[np.ndarray, ...], data: DataSection, key: str) -> None:
    sizes = [len(part) for part in parts]
    if 0 in sizes:
        empty = [client for client, size in enumerate(sizes) if size == 0]
        dirichlet = data.partitioner == "dirichlet"
        hint = "; set data.min_partition_size >= 1 or raise data.alpha" if dirichlet else ""
        raise ConfigError(
            key,
            f"{data.partitioner} left client(s) {empty} with no training examples "
            f"({data.num_clients} clients, {sum(sizes)} examples assigned){hint}",
        )


def label_histogram(
    labels: np.ndarray, partitions: Sequence[np.ndarray], num_classes: int
) -> np.ndarray:
    """int64 [clients, classes]: how many examples of each class each client holds."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    counts = np.zeros((len(partitions), num_classes), dtype=np.int64)
    for client, part in enumerate(partitions):
        counts[client] = np.bincount(labels[part], minlength=num_classes)
    return counts
