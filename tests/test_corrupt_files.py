"""Corrupted or truncated files: weights are a clear DataError, caches are rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fedsim.cache import read_npz_cache, save_npz_atomic
from fedsim.errors import DataError
from fedsim.tracking.weights import load_state, save_weights


def test_weights_round_trip_and_corruption(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)}
    save_weights(state, path)
    back = load_state(path)
    assert all(torch.equal(back[k], v) for k, v in state.items())
    data = path.read_bytes()
    for broken in (data[: len(data) - 3], data[:7], b"", b"not a safetensors file" * 9):
        path.write_bytes(broken)
        with pytest.raises(DataError, match="truncated or corrupt safetensors file"):
            load_state(path)
    with pytest.raises(DataError, match="not found"):
        load_state(tmp_path / "absent.safetensors")


def test_a_truncated_cache_is_dropped_for_rebuilding(tmp_path: Path) -> None:
    path = tmp_path / "cache.npz"
    save_npz_atomic(path, features=np.arange(100.0))
    (values,) = read_npz_cache(path, "features")
    assert np.array_equal(values, np.arange(100.0))
    assert read_npz_cache(path, "missing-key") is None and not path.exists()
    save_npz_atomic(path, features=np.arange(100.0))
    path.write_bytes(path.read_bytes()[:60])
    assert read_npz_cache(path, "features") is None
    assert not path.exists()  # deleted: the caller renders / encodes it again
