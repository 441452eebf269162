"""DDPM math against references computed another way: the closed-form forward process vs
the Markov chain, the schedule vs numpy and diffusers, one reverse step vs the posterior
mean by hand, and the Frechet distance vs its closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from fedsim.diffusion.frechet import FeatureStats, frechet_distance
from fedsim.diffusion.sampling import Condition, generate
from fedsim.diffusion.schedule import NoiseSchedule, ddim_scheduler, ddpm_scheduler
from fedsim.losses import ddpm_mse
from tests.test_diffusion_task import _one_thread  # noqa: F401  (autouse fixture)


def test_linear_schedule_equals_numpy_cumprod_and_diffusers() -> None:
    betas = np.linspace(1e-4, 0.02, 1000, dtype=np.float64)
    reference = np.cumprod(1.0 - betas)
    ours = NoiseSchedule.build(1000, "linear")
    np.testing.assert_allclose(ours.betas.numpy(), betas, rtol=1e-6)
    np.testing.assert_allclose(ours.alphas_cumprod.numpy(), reference, rtol=1e-5, atol=1e-7)
    diffusers_default = DDPMScheduler(num_train_timesteps=1000)  # its linear 1e-4 -> 0.02
    torch.testing.assert_close(ours.alphas_cumprod, diffusers_default.alphas_cumprod)
    assert ours.alphas_cumprod[-1].item() == pytest.approx(4.04e-5, rel=0.01)  # ~pure noise


def test_cosine_schedule_equals_nichol_dhariwal_formula() -> None:
    steps, s = 1000, 0.008
    f = [math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2 for t in range(steps + 1)]
    betas = np.array([min(1 - f[t + 1] / f[t], 0.999) for t in range(steps)])
    ours = NoiseSchedule.build(steps, "cosine")
    np.testing.assert_allclose(ours.betas.numpy(), betas, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.alphas_cumprod.numpy(), np.cumprod(1 - betas), rtol=1e-4)


@pytest.mark.parametrize("t", [0, 9, 49])
def test_closed_form_q_matches_iterating_the_markov_chain(t: int) -> None:
    schedule = NoiseSchedule.build(50, "linear")
    draws = 40_000
    x0 = torch.tensor([-1.0, 0.0, 0.5, 1.0], dtype=torch.float64).repeat(draws, 1)  # [M, 4]
    g = torch.Generator().manual_seed(t)
    x = x0.clone()
    for step in range(t + 1):  # q(x_s | x_{s-1}) = N(sqrt(1 - beta_s) x_{s-1}, beta_s I)
        beta = schedule.betas[step].double()
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=g, dtype=x.dtype)
    abar = schedule.alphas_cumprod[t].double()
    mean, var = abar.sqrt() * x0[0], (1 - abar).expand(4)
    se_mean, se_var = (var / draws).sqrt(), var * math.sqrt(2 / draws)
    assert bool(((x.mean(0) - mean).abs() < 5 * se_mean).all())
    assert bool(((x.var(0) - var).abs() < 5 * se_var).all())
    # and the closed form itself draws from the same distribution
    closed = schedule.q_sample(x0.float(), torch.full((draws,), t),
                               torch.randn(x0.shape, generator=g)).double()
    assert bool(((closed.mean(0) - mean).abs() < 5 * se_mean).all())
    assert bool(((closed.var(0) - var).abs() < 5 * se_var).all())


def _tiny() -> tuple[torch.Tensor, torch.Tensor]:
    x_t = torch.tensor([[[[0.3, -0.7], [1.2, 0.1]]]])
    eps = torch.tensor([[[[0.5, -0.2], [0.9, -1.1]]]])
    return x_t, eps


@pytest.mark.parametrize("t", [5, 0])
def test_one_ddpm_reverse_step_is_the_posterior_mean_plus_beta_tilde_noise(t: int) -> None:
    betas = np.linspace(1e-4, 0.02, 10)
    abar = np.cumprod(1 - betas)
    x_t, eps = _tiny()
    mean = (x_t - betas[t] / math.sqrt(1 - abar[t]) * eps) / math.sqrt(1 - betas[t])
    beta_tilde = (1 - abar[t - 1]) / (1 - abar[t]) * betas[t] if t > 0 else 0.0
    expected = mean + math.sqrt(beta_tilde) * torch.randn(x_t.shape,
                                                          generator=torch.Generator().manual_seed(7))
    scheduler = ddpm_scheduler(10, "linear", clip_sample=False)
    scheduler.set_timesteps(10)
    got = scheduler.step(eps, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-6)


def test_one_ddim_step_is_the_deterministic_update() -> None:
    betas = np.linspace(1e-4, 0.02, 10)
    abar = np.cumprod(1 - betas)
    x_t, eps = _tiny()
    scheduler = ddim_scheduler(10, "linear", clip_sample=False)
    scheduler.set_timesteps(5)  # timesteps 8, 6, 4, 2, 0
    t, prev = int(scheduler.timesteps[1]), int(scheduler.timesteps[2])
    x0 = (x_t - math.sqrt(1 - abar[t]) * eps) / math.sqrt(abar[t])
    expected = math.sqrt(abar[prev]) * x0 + math.sqrt(1 - abar[prev]) * eps
    got = scheduler.step(eps, t, x_t).prev_sample
    torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-6)


def test_ddpm_mse_is_the_per_image_mean_squared_error() -> None:
    predicted = torch.zeros(2, 1, 2, 2)
    noise = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]], [[[2.0, 0.0], [0.0, 0.0]]]])
    assert ddpm_mse(predicted, noise, "none").tolist() == [1.0, 1.0]
    assert ddpm_mse(predicted, noise).item() == 1.0


def test_frechet_distance_closed_form_and_zero() -> None:
    a = FeatureStats(np.array([0.0, 1.0]), np.diag([1.0, 4.0]))
    b = FeatureStats(np.array([3.0, 1.0]), np.diag([4.0, 1.0]))
    # diagonal covariances: |mu_a - mu_b|^2 + sum (sqrt(s_a) - sqrt(s_b))^2 = 9 + 1 + 1
    assert frechet_distance(a, b) == pytest.approx(11.0, rel=1e-9)
    x = np.random.default_rng(0).normal(size=(300, 5))
    assert frechet_distance(FeatureStats.of(x), FeatureStats.of(x)) == pytest.approx(0, abs=1e-6)
    shifted = FeatureStats.of(x + 2.0)
    assert frechet_distance(FeatureStats.of(x), shifted) == pytest.approx(20.0, rel=1e-6)


class OracleDenoiser(torch.nn.Module):
    """The exact eps-predictor when the data is one image per class: eps = (x_t - sqrt(abar_t)
    x*) / sqrt(1 - abar_t). Every correct sampler must then land on x*."""

    def __init__(self, targets: torch.Tensor, schedule: NoiseSchedule) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # samplers read the device from it
        self.targets, self.schedule = targets, schedule

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        target = self.targets[0 if labels is None else labels].expand_as(x) * 2 - 1
        abar = self.schedule.alphas_cumprod[t].view(-1, 1, 1, 1)
        return (x - abar.sqrt() * target) / (1 - abar).sqrt()


@pytest.mark.parametrize(("kind", "conditional"), [("ddim", False), ("ddpm", False),
                                                   ("ddim", True)])
def test_samplers_reach_the_data_under_an_oracle_denoiser(kind: str, conditional: bool) -> None:
    schedule = NoiseSchedule.build(50, "linear")
    targets = torch.tensor([[[[0.0, 1.0], [0.25, 0.5]]], [[[1.0, 0.0], [0.75, 0.5]]]])
    model = OracleDenoiser(targets if conditional else targets[:1], schedule)
    labels = torch.tensor([1, 0, 1]) if conditional else None
    condition = None if labels is None else Condition(labels, null_class=2, scale=1.0)
    images = generate(model, kind, 50, "linear", 10, (1, 2, 2), 3, condition, seed=0)
    expected = targets[labels] if conditional else targets[:1].expand(3, -1, -1, -1)
    torch.testing.assert_close(images, expected, atol=2e-3, rtol=0)
