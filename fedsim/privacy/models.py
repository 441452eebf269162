"""One place that builds a task's model, for the server and every client alike.

Record-level DP needs layers Opacus can compute per-example gradients for:
`ModuleValidator.fix` swaps the others (BatchNorm -> GroupNorm, ...). It changes the
architecture, so the server's model and the clients' must both come from here.

Opacus 1.6's per-example gradients of a convolution are wrong when the convolution's input
is not contiguous (diffusers' UNet feeds its mid and up blocks such tensors after attention):
every Conv2d gets a pre-hook that makes its input contiguous (same values, same forward
result; the per-example gradients then match autograd's, tests/test_privacy_record.py).
"""

from __future__ import annotations

import torch
from torch import nn

from fedsim.config import Config
from fedsim.tasks.base import Task


def build_model(task: Task, cfg: Config) -> nn.Module:
    """`task.build_model()`, made Opacus-compatible when ``privacy.mode = "record"``."""
    model = task.build_model()
    if cfg.privacy.mode != "record":
        return model
    from opacus.validators import ModuleValidator

    model = ModuleValidator.fix(model)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_pre_hook(contiguous_inputs)
    return model


def contiguous_inputs(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple:
    """Forward pre-hook: the module's inputs as contiguous tensors (see the module doc)."""
    return tuple(x.contiguous() if isinstance(x, torch.Tensor) else x for x in inputs)
