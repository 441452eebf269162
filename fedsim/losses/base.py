"""The loss registry, per-example decomposability, and the shared `reduction` argument.

Why decomposability is recorded: record-level DP-SGD (Opacus) clips each example's gradient
to norm C and adds noise scaled to C. That bounds one example's influence only when the batch
loss is a sum of terms that each depend on one example alone. A loss whose term for example i
also reads example j (InfoNCE, CLIP, in-batch N-pair: j is one of i's negatives) lets j move
the gradient through i's term too, so removing j changes the sum by more than j's clipped
gradient and the noise no longer covers it. Such losses are refused under record-level DP;
user-level DP (clip a whole client update) still bounds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fedsim.registry import Registry

REDUCTIONS = ("none", "mean", "sum")


@dataclass(frozen=True)
class LossSpec:
    """A registered loss.

    `inputs` is the positional tensor signature, machine-readable: comma-separated
    ``name[dims]`` where dims use N (examples), M (negatives per example) and D (embedding
    size), ``[]`` is a scalar and a ``:bool`` suffix marks a 0/1 tensor. Example:
    ``"a[N,D], b[N,D], same[N]:bool"``. `decomposable` is True when loss term i reads only
    example i's own tuple (see the module docstring for why DP needs this).
    """

    name: str
    fn: Callable[..., torch.Tensor]
    decomposable: bool
    inputs: str
    doc: str


LOSSES: Registry[LossSpec] = Registry("loss", "task.loss")


def register_loss(fn: Callable[..., torch.Tensor], *, decomposable: bool, inputs: str) -> None:
    """Register `fn` under its own name, its docstring's first line as `doc`."""
    doc = (fn.__doc__ or "").strip().splitlines()[0]
    LOSSES.register(fn.__name__)(LossSpec(fn.__name__, fn, decomposable, inputs, doc))


def is_decomposable(name: str) -> bool:
    """Whether the registered loss `name` is a sum of per-example terms (safe for record DP).

    Raises ConfigError (key ``task.loss``) for an unknown name.
    """
    return LOSSES.get(name).decomposable


def check_reduction(reduction: str) -> None:
    """Raise ValueError unless `reduction` is one of "none", "mean", "sum"."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}; got {reduction!r}")


def reduce(per_example: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per-example losses [N] as they are ("none"), averaged ("mean") or summed ("sum")."""
    check_reduction(reduction)
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example
