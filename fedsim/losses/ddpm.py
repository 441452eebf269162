"""The DDPM training loss: ||eps - eps_theta(x_t, t)||^2, one term per image."""

from __future__ import annotations

import torch

from fedsim.losses.base import check_reduction, reduce, register_loss


def ddpm_mse(predicted: torch.Tensor, noise: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Denoising loss of Ho et al. (2020): mean squared error between the predicted and the
    true noise of each image (mean over its pixels), then reduced over images.

    Term i reads only image i's own x_t, t and noise: per-example decomposable.
    """
    check_reduction(reduction)
    per_example = (predicted - noise).square().flatten(1).mean(1)
    return reduce(per_example, reduction)


register_loss(ddpm_mse, decomposable=True, inputs="predicted[N,D], noise[N,D]")  # D: pixels
