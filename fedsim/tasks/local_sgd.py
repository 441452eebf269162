"""The local training loop every task shares: seeded batches, SGD/Adam, optional FedProx term."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.sgd import sgd as torch_sgd_update

from fedsim.config import ClientSection
from fedsim.data import ArrayDataset
from fedsim.privacy.active import active_record_dp
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


class TorchSGDUpdate:
    """torch.optim.SGD without the Optimizer class: the same update, from the same function.

    `torch.optim.SGD.step` computes its update by calling `torch.optim.sgd.sgd` (its
    functional form); this class calls that function with exactly the arguments SGD.step
    passes for one param group with dampening 0, nesterov and maximize off, and keeps the
    momentum buffers as SGD's state does. So the weights are bitwise those of
    torch.optim.SGD (tested, with momentum and weight decay). Why not SGD itself: building
    any torch.optim.Optimizer imports torch._dynamo (~2 s of CPU in every fresh process,
    i.e. in every Ray actor), which this loop has no use for.
    """

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, momentum: float, weight_decay: float
    ) -> None:
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One SGD step over the parameters that have a gradient (as SGD.step)."""
        held = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in held]
        grads = [p.grad for p in params]
        use_momentum = self.momentum != 0
        buffers = [self.momentum_buffers[i] for i in held] if use_momentum else []
        torch_sgd_update(
            params,
            grads,  # type: ignore[arg-type]
            buffers,
            weight_decay=self.weight_decay,
            momentum=self.momentum,
            lr=self.lr,
            dampening=0.0,
            nesterov=False,
            maximize=False,
            has_sparse_grad=any(g.is_sparse for g in grads),  # type: ignore[union-attr]
            foreach=None,
            fused=None,
            grad_scale=None,
            found_inf=None,
        )
        for i, buffer in zip(held if use_momentum else [], buffers, strict=True):
            self.momentum_buffers[i] = buffer


def local_optimizer(
    model: nn.Module, client: ClientSection
) -> TorchSGDUpdate | torch.optim.Optimizer:
    """What `local_sgd` steps with: for "sgd", SGD's update without the Optimizer class (see
    TorchSGDUpdate); otherwise `make_optimizer`'s torch optimizer."""
    if client.optimizer != "sgd":
        return make_optimizer(model, client)
    params = [p for p in model.parameters() if p.requires_grad]
    return TorchSGDUpdate(params, client.lr, client.momentum, client.weight_decay)


def proximal_term(model: nn.Module, anchor: list[torch.Tensor]) -> torch.Tensor:
    """FedProx: 0.5 * ||w - w_global||^2 over trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    return 0.5 * sum(((p - a) ** 2).sum() for p, a in zip(params, anchor, strict=True))


# shard_tensors' arrays are read-only, which torch cannot mark (it warns). One filter, set
# once: `catch_warnings` per call would reset every module's once-only warning registry.
warnings.filterwarnings("ignore", message="The given NumPy array is not writable",
                        category=UserWarning, module=__name__)  # fmt: skip


def shard_tensors(shard: ArrayDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """`shard`'s x and y as CPU tensors on its own memory, not copies (~0.15 ms a client for
    a 600-image shard). Only for reading: indexing a batch makes new tensors."""
    return torch.from_numpy(shard.x), torch.from_numpy(shard.y)


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

    `batches` (index tensors into the shard) default to `batch_schedule`. Under record-level
    DP (an open `fedsim.privacy.active` session) the session trains instead: DP-SGD.
    """
    private = active_record_dp()
    if private is not None:
        return private.train(model, shard, client, generator, batch_loss, proximal_mu, batches)
    device = next(model.parameters()).device
    x_all, y_all = shard_tensors(shard)
    if batches is None:
        batches = batch_schedule(len(shard), client, generator)
    optimizer = local_optimizer(model, client)
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


class LocalSGDTraining:
    """Mixin for tasks whose local training is plain `local_sgd` on their `batch_loss`."""

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss of one batch; tasks override it."""
        raise NotImplementedError

    def train(
        self,
        model: nn.Module,
        shard: ArrayDataset,
        client: ClientSection,
        generator: torch.Generator,
        proximal_mu: float = 0.0,
    ) -> TrainResult:
        """Local SGD on the shard with the task's batch loss."""
        return local_sgd(model, shard, client, generator, self.batch_loss, proximal_mu)
