"""The local training loop every task shares: seeded batches, SGD/Adam, optional FedProx term."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fedsim.config import ClientSection
from fedsim.data import ArrayDataset
from fedsim.tasks.base import TrainResult

BatchLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def batch_schedule(
    num_examples: int, client: ClientSection, generator: torch.Generator
) -> list[torch.Tensor]:
    """Index batches of one round: `local_steps` batches if set, else `local_epochs` epochs.

    Each epoch is a fresh permutation cut into batches of `batch_size` (the last may be
    smaller); in step mode permutations are concatenated until enough batches exist.
    """
    size = min(client.batch_size, num_examples)
    if client.local_steps == 0:
        epochs = range(client.local_epochs)
        return [
            b for _ in epochs for b in torch.randperm(num_examples, generator=generator).split(size)
        ]
    batches: list[torch.Tensor] = []
    while len(batches) < client.local_steps:
        batches.extend(torch.randperm(num_examples, generator=generator).split(size))
    return batches[: client.local_steps]


def make_optimizer(model: nn.Module, client: ClientSection) -> torch.optim.Optimizer:
    """The client's optimizer, fresh every round (no optimizer state crosses rounds)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if client.optimizer == "adam":
        return torch.optim.Adam(params, lr=client.lr, weight_decay=client.weight_decay)
    return torch.optim.SGD(
        params, lr=client.lr, momentum=client.momentum, weight_decay=client.weight_decay
    )


def proximal_term(model: nn.Module, anchor: list[torch.Tensor]) -> torch.Tensor:
    """FedProx: 0.5 * ||w - w_global||^2 over trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    return 0.5 * sum(((p - a) ** 2).sum() for p, a in zip(params, anchor, strict=True))


def local_sgd(
    model: nn.Module,
    shard: ArrayDataset,
    client: ClientSection,
    generator: torch.Generator,
    batch_loss: BatchLoss,
    proximal_mu: float = 0.0,
    batches: list[torch.Tensor] | None = None,
) -> TrainResult:
    """Train `model` in place on `shard`; returns examples used, steps and mean loss.

    `batches` (index tensors into the shard) default to `batch_schedule`.
    """
    device = next(model.parameters()).device
    x_all, y_all = torch.tensor(shard.x), torch.tensor(shard.y)  # shards are read-only views
    if batches is None:
        batches = batch_schedule(len(shard), client, generator)
    optimizer = make_optimizer(model, client)
    anchor = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    model.train()
    total = 0.0
    for idx in batches:
        x, y = x_all[idx].to(device), y_all[idx].to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = batch_loss(model, x, y)
        objective = loss + proximal_mu * proximal_term(model, anchor) if proximal_mu else loss
        objective.backward()
        optimizer.step()
        total += float(loss.detach())
    used = len(torch.cat(batches).unique()) if batches else 0
    return TrainResult(num_examples=used, steps=len(batches), loss=total / max(len(batches), 1))
