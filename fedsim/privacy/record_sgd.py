"""DP-SGD for one client round with Opacus: per-example clipping and Gaussian noise over
Poisson-sampled batches, every random draw from the client's seeded torch.Generator.

Opacus' GradSampleModule (hooks; functorch fallback for layers without hooks, e.g. GPT-2's
Conv1D) computes per-example gradients, its DPOptimizer clips them to ``max_grad_norm``,
sums, adds N(0, (noise * max_grad_norm)^2) and divides by the expected batch size. An empty
Poisson batch is still a step: noise only, as Opacus' own data loader would give.
The FedProx term does not read data; its gradient is added after privatisation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer
from torch import nn

from fedsim.config import ClientSection
from fedsim.data import ArrayDataset
from fedsim.privacy.record_plan import RoundPlan
from fedsim.tasks.base import TrainResult

BatchLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
# Opacus' hooks on the first layer fire although the input needs no gradient: harmless.
warnings.filterwarnings("ignore", message="Full backward hook is firing")


def poisson_batches(
    n: int, rate: float, steps: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """`steps` index batches; each example is in each batch independently with prob `rate`."""
    draws = (torch.rand(n, generator=generator) < rate for _ in range(steps))
    return [torch.nonzero(mask).flatten() for mask in draws]


def noise_generator(generator: torch.Generator, device: torch.device) -> torch.Generator:
    """The generator DP noise is drawn from: `generator` itself on CPU, else one on `device`
    seeded from it (torch draws CUDA noise only from a CUDA generator)."""
    if device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


def _add_proximal_grad(params: list[torch.Tensor], anchor: list[torch.Tensor], mu: float) -> None:
    for p, a in zip(params, anchor, strict=True):
        p.grad.add_(p.detach() - a, alpha=mu)  # d/dw 0.5 mu ||w - a||^2


def _noise_only_step(params: list[torch.Tensor], std: float, batch: int,
                     generator: torch.Generator) -> None:
    """What DPOptimizer does for an empty batch: gradient = noise / expected batch size."""
    for p in params:
        p.grad = torch.normal(0.0, std, p.shape, generator=generator, device=p.device) / batch


def dp_sgd(
    model: nn.Module,
    shard: ArrayDataset,
    client: ClientSection,
    generator: torch.Generator,
    batch_loss: BatchLoss,
    plan: RoundPlan,
    noise: tuple[float, float],
    proximal_mu: float = 0.0,
) -> TrainResult:
    """Train `model` in place with DP-SGD for `plan`; `noise` = (multiplier, clipping norm)."""
    from fedsim.tasks.local_sgd import make_optimizer, shard_tensors  # (a lazy import cycle)

    multiplier, clip = noise
    device = next(model.parameters()).device
    x_all, y_all = shard_tensors(shard)
    batches = poisson_batches(len(shard), plan.sample_rate, plan.steps, generator)
    private = GradSampleModule(model, batch_first=True, loss_reduction="mean")
    try:
        params = [p for p in private.parameters() if p.requires_grad]
        anchor = [p.detach().clone() for p in params]
        optimizer = DPOptimizer(
            make_optimizer(private, client), noise_multiplier=multiplier, max_grad_norm=clip,
            expected_batch_size=plan.expected_batch, generator=noise_generator(generator, device),
        )  # fmt: skip
        private.train()
        losses = [_step(private, optimizer, x_all, y_all, idx, batch_loss, params, anchor,
                        proximal_mu, plan) for idx in batches]
    finally:
        private._close()  # removes the hooks: the runtime reuses the bare model next round
    ran = [loss for loss in losses if loss is not None]
    used = len(torch.cat(batches).unique()) if batches else 0
    return TrainResult(num_examples=used, steps=len(batches), loss=sum(ran) / max(len(ran), 1))


def _step(
    private: GradSampleModule, optimizer: DPOptimizer, x_all: torch.Tensor, y_all: torch.Tensor,
    idx: torch.Tensor, batch_loss: BatchLoss, params: list[torch.Tensor],
    anchor: list[torch.Tensor], mu: float, plan: RoundPlan,
) -> float | None:
    """One private step; returns the batch loss (None for an empty batch)."""
    device = params[0].device
    optimizer.zero_grad(set_to_none=True)
    loss = None
    if len(idx):
        value = batch_loss(private, x_all[idx].to(device), y_all[idx].to(device))
        value.backward()
        optimizer.pre_step()
        loss = float(value.detach())
    else:
        std = optimizer.noise_multiplier * optimizer.max_grad_norm
        _noise_only_step(params, std, plan.expected_batch, optimizer.generator)
    if mu:
        _add_proximal_grad(params, anchor, mu)
    optimizer.original_optimizer.step()
    return loss
