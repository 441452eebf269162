"""Offline data sets, fixed splits and seeded client partitions (via flwr-datasets).

`load_federated_data(cfg.data, seed)` is what a run needs; the rest is exposed for tests,
reports and tools.
"""

from fedsim.data import (
    emoji,  # noqa: E402,F401  (registers the emoji image-text pairs)
    toy,  # noqa: E402,F401  (registers the generated toy-1d set)
)
from fedsim.data.federated import load_federated_data
from fedsim.data.partition import label_histogram, partition_indices
from fedsim.data.partitioners import PARTITIONERS
from fedsim.data.sources import DATASETS, DatasetSource, check_available
from fedsim.data.splits import load_splits
from fedsim.data.types import ArrayDataset, FederatedData

__all__ = [
    "DATASETS",
    "PARTITIONERS",
    "ArrayDataset",
    "DatasetSource",
    "FederatedData",
    "check_available",
    "label_histogram",
    "load_federated_data",
    "load_splits",
    "partition_indices",
]
