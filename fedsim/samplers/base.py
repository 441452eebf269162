"""The miner registry, and why every online miner couples examples (DP).

A miner picks (anchor, positive, negative) index triplets from one batch of embeddings.
Our conclusion: EVERY online miner, random included, couples examples, so record-level
DP-SGD must refuse online mining whatever the loss:

1. The loss term of a mined triplet reads three rows of the batch. Opacus clips the gradient
   that flows through each row, but example j also moves the gradients of the anchors that
   picked it as a positive or negative; removing j changes those rows' gradients too, so the
   sum moves by more than j's clipped gradient. This already holds for `random`.
2. hard, semi_hard, batch_hard and batch_all additionally choose tuples by looking at other
   examples' embeddings: moving j changes which triplets the other anchors get.

`triplet_margin` is decomposable only over FIXED tuples, where the DP record is the tuple
(offline `make_triplets` / `make_pairs`). Even then the guarantee protects a tuple, not an
underlying example that appears in several tuples. User-level DP (clip whole client
updates) covers every miner. `couples` stays in `MinerSpec` so a miner that keeps to one
record's own tuple could declare False.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import torch

from fedsim.registry import Registry


class Miner(Protocol):
    """The uniform miner signature; returns a LongTensor [T, 3] of (anchor, pos, neg) rows."""

    def __call__(
        self,
        emb: torch.Tensor,
        labels: torch.Tensor,
        margin: float = ...,
        distance: str = ...,
        generator: torch.Generator | None = ...,
    ) -> torch.Tensor: ...


@dataclass(frozen=True)
class MinerSpec:
    """A registered miner; `couples` is True when record-level DP cannot bound it."""

    name: str
    fn: Miner
    couples: bool
    doc: str


MINERS: Registry[MinerSpec] = Registry("miner", "task.miner")
M = TypeVar("M", bound=Miner)


def register_miner(name: str, *, couples: bool) -> Callable[[M], M]:
    """Decorator registering a miner under `name`, its docstring's first line as `doc`."""

    def add(fn: M) -> M:
        doc = (fn.__doc__ or "").strip().splitlines()[0]
        MINERS.register(name)(MinerSpec(name, fn, couples, doc))
        return fn

    return add


def miner_couples(name: str) -> bool:
    """Whether miner `name` couples examples; ConfigError (``task.miner``) if unknown."""
    return MINERS.get(name).couples


def label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, N] masks: (same label and a different index, different label)."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def empty_triplets(device: torch.device) -> torch.Tensor:
    """A LongTensor of shape [0, 3]: no valid triplet in the batch."""
    return torch.empty((0, 3), dtype=torch.long, device=device)


def require_generator(generator: torch.Generator | None, miner: str) -> torch.Generator:
    """The generator, or ValueError: random miners never fall back to global randomness."""
    if generator is None:
        raise ValueError(f"miner {miner!r} samples: pass a torch.Generator")
    return generator
