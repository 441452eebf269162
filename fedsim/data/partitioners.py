"""The flwr-datasets partitioners behind `data.partitioner`, configured from DataSection.

Only labels (and natural client ids, if any) go to flwr-datasets, in a tiny in-memory
`datasets.Dataset` whose rows are first shuffled with the run seed (as flwr-datasets'
FederatedDataset does); each shard is read back through its "index" column. What each
partitioner guarantees (flwr-datasets 0.6):

- iid: contiguous equal slices of the shuffled rows; every index exactly once.
- dirichlet: per class, Dirichlet(alpha) proportions over clients (Hsu et al. 2019); every
  index exactly once; resampled up to 10 times until each client has min_partition_size.
  No self-balancing: its renormalisation divides by zero for tiny alpha and then silently
  hands a whole class to the last client.
- pathological: client i holds class i mod C plus classes_per_client - 1 random others
  ("first-deterministic": all classes are used whenever num_clients >= C); classes held by
  no client are left out.
- shard: label-sorted rows cut into num_clients * shards_per_client shards of equal size
  floor(N / shards); the remainder (< number of shards) is left out.
- natural: one client per natural id (e.g. writer); needs `groups`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from fedsim.config import DataSection
from fedsim.errors import ConfigError
from fedsim.registry import Registry

if TYPE_CHECKING:  # flwr-datasets pulls datasets, pandas, seaborn, scipy: ~3 s to import,
    from flwr_datasets.partitioner import Partitioner  # so each builder imports it lazily


class Plan(NamedTuple):
    """A configured partitioner, and the config key + hint to report if it still fails."""

    partitioner: Partitioner
    key: str
    hint: str


# A builder checks what it can up front: (data, seed, labels, groups) -> Plan.
Builder = Callable[[DataSection, int, np.ndarray, "np.ndarray | None"], Plan]
PARTITIONERS: Registry[Builder] = Registry("partitioner", "data.partitioner")


def no_natural_ids(what: str) -> ConfigError:
    """The error for `partitioner = "natural"` on data without natural client ids."""
    others = ", ".join(name for name in PARTITIONERS.names() if name != "natural")
    return ConfigError(
        "data.partitioner",
        f"{what} has no natural client ids (e.g. writers), so 'natural' cannot split it; "
        f"use one of: {others}",
    )


@PARTITIONERS.register("iid")
def _iid(data: DataSection, seed: int, labels: np.ndarray, groups: np.ndarray | None) -> Plan:
    from flwr_datasets.partitioner import IidPartitioner

    return Plan(IidPartitioner(num_partitions=data.num_clients), "data.num_clients", "")


@PARTITIONERS.register("dirichlet")
def _dirichlet(data: DataSection, seed: int, labels: np.ndarray, groups: np.ndarray | None) -> Plan:
    if data.num_clients * data.min_partition_size > len(labels):
        raise ConfigError(
            "data.min_partition_size",
            f"{data.num_clients} clients x min_partition_size {data.min_partition_size} exceeds "
            f"the {len(labels)} training examples; lower it or data.num_clients",
        )
    from flwr_datasets.partitioner import DirichletPartitioner

    partitioner = DirichletPartitioner(
        num_partitions=data.num_clients, partition_by="label", alpha=float(data.alpha),
        min_partition_size=data.min_partition_size, self_balancing=False, seed=seed,
    )  # fmt: skip
    hint = (
        f"alpha={data.alpha:g} is too skewed for min_partition_size={data.min_partition_size} "
        f"with {data.num_clients} clients on {len(labels)} examples; raise data.alpha, "
        "lower data.min_partition_size or use fewer data.num_clients"
    )
    return Plan(partitioner, "data.min_partition_size", hint)


@PARTITIONERS.register("pathological")
def _pathological(
    data: DataSection, seed: int, labels: np.ndarray, groups: np.ndarray | None
) -> Plan:
    num_classes = len(np.unique(labels))
    if data.classes_per_client > num_classes:
        raise ConfigError(
            "data.classes_per_client",
            f"{data.classes_per_client} is more than the {num_classes} classes in the training "
            f"set; allowed: 1..{num_classes}",
        )
    from flwr_datasets.partitioner import PathologicalPartitioner

    partitioner = PathologicalPartitioner(
        num_partitions=data.num_clients, partition_by="label",
        num_classes_per_partition=data.classes_per_client,
        class_assignment_mode="first-deterministic", seed=seed,
    )  # fmt: skip
    return Plan(partitioner, "data.num_clients", "use fewer clients or fewer classes per client")


@PARTITIONERS.register("shard")
def _shard(data: DataSection, seed: int, labels: np.ndarray, groups: np.ndarray | None) -> Plan:
    shards = data.num_clients * data.shards_per_client
    if shards > len(labels):
        raise ConfigError(
            "data.shards_per_client",
            f"{data.num_clients} clients x {data.shards_per_client} shards is more shards than "
            f"the {len(labels)} training examples; lower it or data.num_clients",
        )
    from flwr_datasets.partitioner import ShardPartitioner

    partitioner = ShardPartitioner(
        num_partitions=data.num_clients, partition_by="label",
        num_shards_per_partition=data.shards_per_client, seed=seed,
    )  # fmt: skip
    return Plan(partitioner, "data.shards_per_client", "use fewer shards per client")


@PARTITIONERS.register("natural")
def _natural(data: DataSection, seed: int, labels: np.ndarray, groups: np.ndarray | None) -> Plan:
    if groups is None:
        raise no_natural_ids("this training set")
    num_ids = len(np.unique(groups))
    if data.num_clients != num_ids:
        raise ConfigError(
            "data.num_clients",
            f"the training set has {num_ids} natural clients; set it to {num_ids}",
        )
    from flwr_datasets.partitioner import NaturalIdPartitioner

    return Plan(NaturalIdPartitioner(partition_by="group"), "data.partitioner", "")
