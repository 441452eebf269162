"""Reconstruction quality: PSNR and SSIM (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5)
for images in [0, 1], in torch. Windows shrink to the image for small images (digits 8x8)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

C1, C2 = 0.01**2, 0.03**2  # (K1 L)^2, (K2 L)^2 with dynamic range L = 1


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of `x` against `y` (both in [0, 1])."""
    mse = float(F.mse_loss(x.float(), y.float()))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def gaussian_window(size: int, sigma: float = 1.5) -> torch.Tensor:
    """A normalised 2-D Gaussian window [size, size]."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11) -> float:
    """Mean structural similarity of images `x`, `y` [N, C, H, W] in [0, 1] (valid windows,
    channels separately, then averaged)."""
    size = min(window, x.shape[-1], x.shape[-2])
    w = gaussian_window(size).to(x.device)[None, None].repeat(x.shape[1], 1, 1, 1)
    x, y = x.double(), y.double()

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=x.shape[1])

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    num = (2 * mx * my + C1) * (2 * cov + C2)
    den = (mx**2 + my**2 + C1) * (vx + vy + C2)
    return float((num / den).mean())
