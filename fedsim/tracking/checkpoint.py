"""Run checkpoints: one safetensors file, written atomically, that holds everything a resumed
run needs to continue bit for bit.

``RUN_DIR/checkpoint/checkpoint.safetensors``: numpy arrays (global weights, strategy arrays,
RNG states, each node's serialized Context.state) and, in the safetensors metadata, one JSON
document (round, scalar strategy attributes, Python's RNG state, record totals). Nothing is
pickled; a truncated or corrupt file is a DataError naming it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fedsim.errors import DataError

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "checkpoint.safetensors"
FORMAT = 1


def checkpoint_path(run_dir: Path) -> Path:
    """Where the checkpoint of `run_dir` lives."""
    return run_dir / CHECKPOINT_DIR / CHECKPOINT_FILE


@dataclass
class Checkpoint:
    """What a checkpoint holds: `arrays` by name, `meta` as plain JSON values."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def write_checkpoint(run_dir: Path, checkpoint: Checkpoint) -> Path:
    """Write `checkpoint` atomically (temp file + rename): a reader sees the old or the new."""
    from safetensors.numpy import save_file

    path = checkpoint_path(run_dir)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    arrays = {k: np.ascontiguousarray(v) for k, v in checkpoint.arrays.items()}
    meta = {"fedsim": json.dumps({"format": FORMAT, **checkpoint.meta}, sort_keys=True)}
    save_file(arrays, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def read_checkpoint(run_dir: Path) -> Checkpoint:
    """The checkpoint of `run_dir`; a DataError when it is missing, truncated or corrupt."""
    from safetensors import SafetensorError, safe_open

    path = checkpoint_path(run_dir)
    if not path.is_file():
        raise DataError(f"{path}: no checkpoint (was the run started with run.checkpoint_every?)")
    try:
        with safe_open(str(path), framework="numpy") as stored:
            meta = json.loads((stored.metadata() or {})["fedsim"])
            arrays = {key: stored.get_tensor(key) for key in stored.keys()}
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: truncated or corrupt checkpoint ({err!r:.200})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "round" not in meta:
        raise DataError(f"{path}: not a fedsim checkpoint of format {FORMAT}")
    return Checkpoint(arrays, meta)


def capture_rng(checkpoint: Checkpoint) -> None:
    """Add the process-global RNG states (Python, NumPy, torch CPU) to `checkpoint`."""
    version, state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    checkpoint.arrays["rng/python"] = np.asarray(state, dtype=np.uint64)
    checkpoint.arrays["rng/numpy"] = np.asarray(keys, dtype=np.uint32)
    checkpoint.arrays["rng/torch"] = torch.get_rng_state().numpy()
    checkpoint.meta["rng"] = {"python": [version, gauss], "numpy": [name, pos, has_gauss, cached]}


def restore_rng(checkpoint: Checkpoint) -> None:
    """Set the process-global RNGs to the states `capture_rng` saved."""
    version, gauss = checkpoint.meta["rng"]["python"]
    state = tuple(int(x) for x in checkpoint.arrays["rng/python"])
    random.setstate((version, state, gauss))
    name, pos, has_gauss, cached = checkpoint.meta["rng"]["numpy"]
    np.random.set_state((name, checkpoint.arrays["rng/numpy"], pos, has_gauss, cached))
    torch.set_rng_state(torch.from_numpy(checkpoint.arrays["rng/torch"].copy()))
