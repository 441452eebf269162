"""Torch threads for the server's own evaluation.

The rounds are synchronous: while the server evaluates the global model, no client trains,
so its evaluation may use every CPU the run may use (`run.num_cpus`, 0 = this machine's)
instead of the `run.client_cpus` threads a client gets. Training keeps its thread count,
so a run's weights do not depend on this.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from fedsim.config import Config


def server_threads(cfg: Config) -> int:
    """Threads for the server's evaluation: `run.num_cpus` or this machine's CPUs."""
    return max(cfg.run.client_cpus, cfg.run.num_cpus or os.cpu_count() or 1)


@contextmanager
def evaluation_threads(cfg: Config) -> Iterator[int]:
    """Within the block torch uses `server_threads(cfg)` threads (yielded); the count it had
    before is restored after."""
    before = torch.get_num_threads()
    threads = server_threads(cfg)
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
