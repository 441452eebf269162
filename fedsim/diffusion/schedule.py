"""The DDPM noise schedule (Ho et al. 2020) and its closed-form forward process.

beta_t rises linearly from 1e-4 to 0.02 over T steps (or follows the cosine schedule of
Nichol & Dhariwal 2021); alpha_t = 1 - beta_t and abar_t = prod_{s<=t} alpha_s. The
constants come from diffusers' DDPMScheduler so that training and sampling agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # diffusers imports torch._dynamo (~1.5 s): only where a schedule is built
    from diffusers import DDIMScheduler, DDPMScheduler

BETA_START, BETA_END = 1e-4, 0.02
DIFFUSERS_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def scheduler_kwargs(steps: int, schedule: str, clip_sample: bool = True) -> dict:
    """Constructor arguments shared by diffusers' DDPM and DDIM schedulers."""
    return {"num_train_timesteps": steps, "beta_schedule": DIFFUSERS_SCHEDULES[schedule],
            "beta_start": BETA_START, "beta_end": BETA_END, "clip_sample": clip_sample}


def ddpm_scheduler(steps: int, schedule: str, clip_sample: bool = True) -> DDPMScheduler:
    """diffusers' ancestral DDPM scheduler for this schedule (posterior variance beta~_t)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(**scheduler_kwargs(steps, schedule, clip_sample))


def ddim_scheduler(steps: int, schedule: str, clip_sample: bool = True) -> DDIMScheduler:
    """diffusers' DDIM scheduler (eta = 0: deterministic) for this schedule."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(**scheduler_kwargs(steps, schedule, clip_sample))


@dataclass(frozen=True)
class NoiseSchedule:
    """beta_t and abar_t for t = 0..T-1 (float32 CPU tensors; not model weights)."""

    betas: torch.Tensor
    alphas_cumprod: torch.Tensor

    @classmethod
    def build(cls, steps: int, schedule: str = "linear") -> NoiseSchedule:
        """The schedule diffusers' DDPMScheduler uses for `steps` and `schedule`."""
        ref = ddpm_scheduler(steps, schedule)
        return cls(ref.betas.float().clone(), ref.alphas_cumprod.float().clone())

    @property
    def steps(self) -> int:
        """T, the number of noise levels."""
        return len(self.betas)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, per example (t: int64 [N])."""
        abar = self.alphas_cumprod.to(x0.device)[t].view(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
