"""Client shards kept on disk between processes, so that a run's start-up does not pay
for cutting them again.

Cutting shards needs flwr-datasets and `datasets` (1-3 s to import, more than the cut
itself on small sets) in every process that partitions: each `fedsim run`, each ClientApp
process of Flower's runtimes. The shards depend only on the labels (and natural client
ids), the `[data]` section, the seed, the flwr-datasets version and fedsim's partitioning
code, so all of these make the key; a changed input is a new file, never a stale hit.
Files live under `fedsim.cache.cache_dir()/partitions`; deleting them is always safe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fedsim.cache import cache_dir, read_npz_cache, save_npz_atomic
from fedsim.config import DataSection

_CODE = ("partition.py", "partitioners.py")  # the partitioning code the shards come from


def _code_digest() -> bytes:
    folder = Path(__file__).resolve().parent
    return b"".join(hashlib.sha256((folder / name).read_bytes()).digest() for name in _CODE)


def _array_digest(values: np.ndarray | None) -> bytes:
    if values is None:
        return b"none"
    values = np.asarray(values)
    if values.dtype.kind in "OUS":  # natural client ids may be strings
        return hashlib.sha256("\x00".join(map(str, values.tolist())).encode()).digest()
    raw = str(values.dtype).encode() + np.ascontiguousarray(values).tobytes()
    return hashlib.sha256(raw).digest()


def partition_key(labels: np.ndarray, data: DataSection, seed: int,
                  groups: np.ndarray | None = None) -> str:
    """The cache key of the shards of `labels` under `data` and `seed`."""
    settings = json.dumps(dataclasses.asdict(data), sort_keys=True, default=str)
    digest = hashlib.sha256()
    for part in (_array_digest(labels), _array_digest(groups), settings.encode(),
                 str(seed).encode(), importlib.metadata.version("flwr-datasets").encode(),
                 _code_digest()):  # fmt: skip
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:32]


def cached_partitions(key: str, cut: Callable[[], tuple[np.ndarray, ...]]
                      ) -> tuple[np.ndarray, ...]:
    """The shards stored under `key`, else `cut()`'s, stored for next time."""
    path = cache_dir() / "partitions" / f"{key}.npz"
    stored = read_npz_cache(path, "indices", "ends")
    if stored is not None:
        indices, ends = stored
        return tuple(np.split(indices.astype(np.int64), ends[:-1]))
    parts = cut()
    path.parent.mkdir(parents=True, exist_ok=True)
    ends = np.cumsum([len(p) for p in parts], dtype=np.int64)
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    save_npz_atomic(path, indices=flat.astype(np.int64), ends=ends)
    return parts
