"""One place that builds a task's model, for the server and every client alike.

Record-level DP needs layers Opacus can compute per-example gradients for:
`ModuleValidator.fix` swaps the others (BatchNorm -> GroupNorm, ...). It changes the
architecture, so the server's model and the clients' must both come from here.
"""

from __future__ import annotations

from torch import nn

from fedsim.config import Config
from fedsim.tasks.base import Task


def build_model(task: Task, cfg: Config) -> nn.Module:
    """`task.build_model()`, made Opacus-compatible when ``privacy.mode = "record"``."""
    model = task.build_model()
    if cfg.privacy.mode != "record":
        return model
    from opacus.validators import ModuleValidator

    return ModuleValidator.fix(model)
