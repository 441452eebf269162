"""Batched, gradient-free inference over a whole data set: what every task's evaluation does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

EVAL_BATCH = 1024


@torch.no_grad()
def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, device: torch.device
            ) -> torch.Tensor:
    """`fn` applied to `x` in chunks of EVAL_BATCH on `device`; results concatenated on CPU."""
    parts = [fn(torch.tensor(x[s : s + EVAL_BATCH], device=device)).cpu()
             for s in range(0, len(x), EVAL_BATCH)]
    return torch.cat(parts)
