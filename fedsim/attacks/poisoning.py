"""What a malicious client trains on: its shard poisoned (label flip, backdoor), pooled with
the other colluders' shards under collusion. Honest clients get None (train as usual).

Called by `fedsim.engine.client_side.handle_train` before the task trains. The choice of
poisoned examples is a pure function of (seed, partition id): the same every round.
"""

from __future__ import annotations

import numpy as np

from fedsim.attacks.backdoor import stamp
from fedsim.attacks.malicious import attack_stream, malicious_set
from fedsim.config import Config
from fedsim.data import ArrayDataset, FederatedData
from fedsim.engine.seeding import stream_seed

POISON_STREAM = 7_000_004
DATA_BEHAVIOURS = ("label_flip", "backdoor")


def flip_labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Label flipping: class c becomes class (num_classes - 1 - c)."""
    return (num_classes - 1 - np.asarray(y)).astype(np.int64)


def backdoor_shard(cfg: Config, shard: ArrayDataset, stream: int) -> ArrayDataset:
    """`shard` with a seeded `attack.poison_fraction` of its examples stamped with the trigger
    and relabelled `attack.target_label`."""
    rng = np.random.default_rng(stream_seed(cfg.run.seed, POISON_STREAM, stream))
    count = int(round(cfg.attack.poison_fraction * len(shard)))
    chosen = rng.choice(len(shard), size=count, replace=False)
    x, y = np.array(shard.x), np.array(shard.y)
    x[chosen] = stamp(x[chosen], cfg.attack)
    y[chosen] = cfg.attack.target_label
    return ArrayDataset(x, y)


def _own_data(cfg: Config, data: FederatedData, partition_id: int) -> ArrayDataset:
    """The client's shard, or every colluder's shards concatenated under collusion."""
    ids = malicious_set(cfg) if cfg.attack.collusion else (partition_id,)
    idx = np.concatenate([data.partitions[i] for i in ids])
    return ArrayDataset(data.train.x[idx], data.train.y[idx])


def poisoned_view(
    cfg: Config, partition_id: int, data: FederatedData
) -> tuple[ArrayDataset, int] | None:
    """(training examples, random-stream id) of a malicious client; None for honest ones.

    Colluders share one stream id, so that they train on the same pooled data with the same
    batches and send one identical update."""
    if partition_id not in malicious_set(cfg):
        return None
    if cfg.attack.behaviour not in DATA_BEHAVIOURS and not cfg.attack.collusion:
        return None
    stream = attack_stream(cfg, partition_id)
    shard = _own_data(cfg, data, partition_id)
    if cfg.attack.behaviour == "label_flip":
        return ArrayDataset(shard.x, flip_labels(shard.y, data.num_classes)), stream
    if cfg.attack.behaviour == "backdoor":
        return backdoor_shard(cfg, shard, stream), stream
    return shard, stream
