"""Samplers: ancestral DDPM (all T steps) and DDIM (few steps), with classifier-free guidance.

Each is a short loop over a diffusers scheduler: the scheduler owns the update rule
(posterior mean + beta~_t noise for DDPM; the deterministic eta = 0 update for DDIM), the
model only predicts noise. Images come back in [0, 1], the data's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fedsim.diffusion.schedule import ddim_scheduler, ddpm_scheduler

CHUNK = 256  # images denoised at once (bounds memory)


@dataclass(frozen=True)
class Condition:
    """Requested classes of a conditional model, its "no class" label and the guidance scale."""

    labels: torch.Tensor  # int64 [N]
    null_class: int
    scale: float = 1.0

    def part(self, start: int, stop: int, device: torch.device) -> Condition:
        """The condition of images start..stop-1, on `device`."""
        return Condition(self.labels[start:stop].to(device), self.null_class, self.scale)


def guided_noise(model: nn.Module, x: torch.Tensor, t: torch.Tensor,
                 condition: Condition | None) -> torch.Tensor:
    """eps_theta(x, t); with a condition, classifier-free guidance
    eps_u + scale * (eps_c - eps_u), eps_u predicted with the "no class" label."""
    steps = t.expand(len(x))
    if condition is None:
        return model(x, steps)
    if condition.scale == 1.0:
        return model(x, steps, condition.labels)
    null = torch.full_like(condition.labels, condition.null_class)
    both = model(torch.cat([x, x]), torch.cat([steps, steps]), torch.cat([condition.labels, null]))
    conditional, unconditional = both.chunk(2)
    return unconditional + condition.scale * (conditional - unconditional)


def build_sampler(kind: str, train_steps: int, schedule: str):  # noqa: ANN201 (diffusers type)
    """The diffusers scheduler of sampler `kind` ("ddpm" | "ddim") for this schedule."""
    return (ddpm_scheduler if kind == "ddpm" else ddim_scheduler)(train_steps, schedule)


@torch.no_grad()
def denoise(model: nn.Module, scheduler: object, noise: torch.Tensor,
            condition: Condition | None, generator: torch.Generator, steps: int) -> torch.Tensor:
    """Run `scheduler`'s reverse process for `steps` steps from `noise`; images in [0, 1]."""
    scheduler.set_timesteps(steps)
    x = noise
    for t in scheduler.timesteps:
        eps = guided_noise(model, x, t.to(x.device), condition)
        x = scheduler.step(eps, t, x, generator=generator).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2).cpu()


@torch.no_grad()
def generate(model: nn.Module, kind: str, train_steps: int, schedule: str, steps: int,
             shape: tuple[int, int, int], count: int, condition: Condition | None,
             seed: int) -> torch.Tensor:
    """`count` images [count, C, H, W] in [0, 1] from sampler `kind` (ddpm always takes
    `train_steps` steps), seeded; `condition` for a conditional model, else None."""
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    scheduler = build_sampler(kind, train_steps, schedule)
    steps = train_steps if kind == "ddpm" else min(steps, train_steps)
    parts = []
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        noise = torch.randn((n, *shape), generator=generator).to(device)
        part = None if condition is None else condition.part(start, start + n, device)
        parts.append(denoise(model, scheduler, noise, part, generator, steps))
    return torch.cat(parts)
