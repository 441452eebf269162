"""Independent random streams per (seed, round, client), identical on every backend."""

from __future__ import annotations

import random

import numpy as np
import torch


def stream_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from `seed` and `keys` (e.g. round, partition id)."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def client_generator(seed: int, server_round: int, partition_id: int) -> torch.Generator:
    """The torch Generator a client uses for its batches in one round."""
    return torch.Generator().manual_seed(stream_seed(seed, server_round, partition_id))


def seed_server(seed: int) -> None:
    """Seed the global RNGs the server side uses (Flower samples clients with `random`)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
