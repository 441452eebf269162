"""Gradient inversion: recover a client's training images from its FedSGD update.

- DLG (Zhu et al. 2019): minimise the squared L2 distance between the dummy batch's gradient
  and the observed one with L-BFGS; labels inferred as in iDLG (Zhao et al. 2020) or
  optimised jointly as soft labels (original DLG).
- Inverting Gradients (Geiping et al. 2020): 1 - cosine similarity of the gradients plus a
  total-variation prior, signed Adam with step decay, images boxed to [0, 1], labels inferred.

The observed "gradient" is -update / (lr x steps): exact for one local step (FedSGD), an
average over the trajectory for several steps, which the attack still matches as if it were
one gradient. Pure functions of tensors; `fedsim.attacks.inversion` wires them to runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DPNoise:
    """DP-SGD on the client: per-example clipping to `clip`, then N(0, (sigma x clip)^2)
    noise on the sum of clipped gradients, divided by the batch size."""

    noise_multiplier: float
    clip: float


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def _gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    loss = F.cross_entropy(model(x), y)
    return [g.detach() for g in torch.autograd.grad(loss, _params(model))]


def private_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dp: DPNoise,
                     generator: torch.Generator) -> list[torch.Tensor]:
    """DP-SGD's noisy mean of per-example clipped gradients."""
    total = [torch.zeros_like(p) for p in _params(model)]
    for i in range(len(x)):
        g = _gradient(model, x[i : i + 1], y[i : i + 1])
        norm = torch.sqrt(sum((t**2).sum() for t in g))
        scale = min(1.0, dp.clip / (float(norm) + 1e-12))
        total = [s + scale * t for s, t in zip(total, g, strict=True)]
    std = dp.noise_multiplier * dp.clip
    noisy = [s + std * torch.randn(s.shape, generator=generator) for s in total]
    return [n / len(x) for n in noisy]


def client_update(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int,
                  dp: DPNoise | None = None, seed: int = 0) -> list[torch.Tensor]:
    """The update w_K - w_0 a client sends after `steps` full-batch SGD steps on (x, y)."""
    local = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    start = [p.detach().clone() for p in _params(local)]
    for _ in range(steps):
        g = _gradient(local, x, y) if dp is None else private_gradient(local, x, y, dp,
                                                                        generator)
        with torch.no_grad():
            for p, d in zip(_params(local), g, strict=True):
                p -= lr * d
    return [p.detach() - s for p, s in zip(_params(local), start, strict=True)]


def observed_gradient(update: list[torch.Tensor], lr: float, steps: int) -> list[torch.Tensor]:
    """What the attacker matches: -update / (lr x steps)."""
    return [-u / (lr * steps) for u in update]


def infer_labels(model: nn.Module, gradient: list[torch.Tensor], batch_size: int) -> torch.Tensor:
    """iDLG label inference from the last layer: with non-negative features, only the rows of
    classes present in the batch have a negative sum. Classes are taken from the most negative
    row up, repeated in that order when the batch is larger than the negative rows."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    head = gradient[names.index("head.weight")]
    scores = head.sum(dim=1)
    order = torch.argsort(scores).tolist()
    negative = [c for c in order if scores[c] < 0] or order[:1]
    return torch.tensor([negative[i % len(negative)] for i in range(batch_size)])


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels (anisotropic TV)."""
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()
    dy = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean()
    return dx + dy


def l2_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Sum of squared differences over every parameter's gradient (DLG)."""
    return sum(((x - y) ** 2).sum() for x, y in zip(a, b, strict=True))


def cosine_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """1 - cosine similarity of the concatenated gradients (Inverting Gradients)."""
    dot = sum((x * y).sum() for x, y in zip(a, b, strict=True))
    na = torch.sqrt(sum((x**2).sum() for x in a))
    nb = torch.sqrt(sum((y**2).sum() for y in b))
    return 1 - dot / (na * nb + 1e-12)


def _dummy_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor
                    ) -> list[torch.Tensor]:
    """Gradient of the dummy batch, differentiable w.r.t. the dummy (create_graph)."""
    logits = model(x)
    if target.dtype.is_floating_point:  # DLG's soft labels (logits of the label guess)
        loss = torch.sum(-F.softmax(target, -1) * F.log_softmax(logits, -1), -1).mean()
    else:
        loss = F.cross_entropy(logits, target)
    return list(torch.autograd.grad(loss, _params(model), create_graph=True))


def dlg(model: nn.Module, gradient: list[torch.Tensor], shape: tuple[int, ...],
        labels: torch.Tensor | None, iterations: int, seed: int) -> torch.Tensor:
    """DLG reconstruction of a batch of `shape` (labels None = optimise soft labels too)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen).requires_grad_(True)
    soft = labels is None
    target = (torch.randn(shape[0], _num_classes(model), generator=gen).requires_grad_(True)
              if soft else labels)
    opt = torch.optim.LBFGS([x, target] if soft else [x], lr=1, max_iter=iterations,
                            history_size=100, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = l2_distance(_dummy_gradient(model, x, target), gradient)
        loss.backward()
        return loss

    opt.step(closure)
    return x.detach().clamp(0, 1)


def inverting_gradients(model: nn.Module, gradient: list[torch.Tensor], shape: tuple[int, ...],
                        labels: torch.Tensor, iterations: int, seed: int,
                        tv_weight: float = 1e-2, lr: float = 0.1) -> torch.Tensor:
    """Geiping et al.'s reconstruction: cosine distance + tv_weight x TV, signed Adam."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    milestones = [int(iterations * f) for f in (3 / 8, 5 / 8, 7 / 8)]
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    for _ in range(iterations):
        opt.zero_grad()
        loss = cosine_distance(_dummy_gradient(model, x, labels), gradient)
        loss = loss + tv_weight * total_variation(x)
        loss.backward()
        x.grad.sign_()
        opt.step()
        sched.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def _num_classes(model: nn.Module) -> int:
    return int(model.head.out_features)
