"""One run's federated view of a data set: fixed splits plus seeded client shards."""

from __future__ import annotations

import functools

from fedsim.config import DataSection
from fedsim.data.partition import partition_indices
from fedsim.data.partitioners import no_natural_ids
from fedsim.data.sources import DATASETS, TextSource, check_available
from fedsim.data.splits import load_splits
from fedsim.data.subset import training_pool
from fedsim.data.text import federate_text, load_text_splits
from fedsim.data.types import FederatedData
from fedsim.errors import ConfigError


@functools.lru_cache(maxsize=32)
def load_federated_data(data: DataSection, seed: int) -> FederatedData:
    """The splits of `data.dataset` and its training set cut into `data.num_clients` shards.

    Cached per process on (data, seed): every backend and run in the process shares it.
    """
    source = DATASETS.get(data.dataset)
    if isinstance(source, TextSource):  # fixed splits inside each client, held-out clients
        if data.train_examples:
            raise ConfigError("data.train_examples", "subsets the training split of image "
                              f"data sets only; {data.dataset!r} is a text corpus; allowed: 0")
        check_available(data.dataset)
        return federate_text(data.dataset, load_text_splits(source), data, seed)
    train, dev, test, class_names = load_splits(data.dataset)
    if data.partitioner == "natural":  # none of the offline image sets carries writer ids
        raise no_natural_ids(f"data set {data.dataset!r}")
    pool = training_pool(data, len(train))  # None: every training example
    partitions = partition_indices(train.y if pool is None else train.y[pool], data, seed)
    if pool is not None:
        partitions = tuple(pool[part] for part in partitions)
    for part in partitions:
        part.setflags(write=False)
    return FederatedData(
        name=data.dataset,
        train=train,
        dev=dev,
        test=test,
        partitions=partitions,
        num_classes=len(class_names),
        class_names=class_names,
        image_shape=(int(train.x.shape[1]), int(train.x.shape[2]), int(train.x.shape[3])),
    )
