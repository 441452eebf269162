"""Federated tasks. Importing this package registers every built-in task."""

from __future__ import annotations

from fedsim.config import Config
from fedsim.data import FederatedData
from fedsim.tasks import (
    classify,  # noqa: F401  (registers "classify")
    clip,  # noqa: F401  (registers "clip")
    diffusion,  # noqa: F401  (registers "diffusion")
    metric,  # noqa: F401  (registers "metric")
    nextword,  # noqa: F401  (registers "nextword")
    toy_triplet,  # noqa: F401  (registers "toy-triplet")
)
from fedsim.tasks.base import Task, TrainResult
from fedsim.tasks.registry import TASKS


def build_task(cfg: Config, data: FederatedData) -> Task:
    """The task named by ``task.name``, built for this config and data."""
    return TASKS.get(cfg.task.name)(cfg, data)


__all__ = ["TASKS", "Task", "TrainResult", "build_task"]
