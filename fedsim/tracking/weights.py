"""Final weights: safetensors on disk and a content hash independent of file layout."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import save_file

from fedsim.errors import DataError


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 over (name, dtype, shape, little-endian bytes) of each tensor, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def save_weights(state: Mapping[str, torch.Tensor], path: Path) -> str:
    """Write `state` as safetensors (atomically) and return its weights_sha256."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(path)
    return weights_sha256(tensors)


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file written by `save_weights` (on CPU).

    Only safetensors is read (no pickle); a missing, truncated or corrupt file is a DataError
    naming it.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: weights file not found") from None
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(f"{path}: truncated or corrupt safetensors file ({err})") from None
