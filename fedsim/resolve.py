"""Settings a config implies: what `fedsim.validation.prepare` fills in from other keys.

`prepare` applies them around its checks before `fedsim run` writes anything; the Flower apps
apply them again to whatever config they are given (`fedsim.engine.app_config`), so that a
config that no `fedsim run` prepared (`flwr run . -c 'config-file="..."'`) trains the same
model, loss and steps on the server and on every client. Each step is idempotent.
"""

from __future__ import annotations

import dataclasses

from fedsim.config import Config
from fedsim.errors import IncompatibleOptionsError
from fedsim.tasks.clip import resolve_clip
from fedsim.tasks.diffusion import resolve_diffusion
from fedsim.tasks.toy_triplet import resolve_toy_triplet


def resolve_fedsgd(cfg: Config) -> Config:
    """FedSGD is one local step per sampled client per round."""
    if cfg.strategy.name != "fedsgd":
        return cfg
    if cfg.client.local_steps > 1:
        raise IncompatibleOptionsError(
            "client.local_steps",
            f"fedsgd takes exactly one local step per round, got {cfg.client.local_steps}; "
            "use strategy.name = 'fedavg' for several local steps",
        )
    return dataclasses.replace(cfg, client=dataclasses.replace(cfg.client, local_steps=1))


def resolve_tasks(cfg: Config) -> Config:
    """toy-triplet's fixed settings, clip's and diffusion's default loss (and model)."""
    return resolve_diffusion(resolve_clip(resolve_toy_triplet(cfg)))


def resolve_config(cfg: Config) -> Config:
    """Every setting `prepare` fills in, without its checks or any data."""
    return resolve_fedsgd(resolve_tasks(cfg))
