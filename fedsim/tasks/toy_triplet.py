"""The course exercise as a seconds-long task: scalar x | c ~ N(+-0.5, 0.1), linear 1 -> 5
embedding, triplet loss on random triplets. It is the metric task with these settings fixed.
"""

from __future__ import annotations

import dataclasses

from fedsim.config import Config, DataSection, TaskSection
from fedsim.errors import IncompatibleOptionsError
from fedsim.tasks.metric import MetricTask
from fedsim.tasks.registry import TASKS

EXERCISE_TASK = {"model": "linear", "embedding_dim": 5, "loss": "triplet_margin",
                 "miner": "random", "holdout_classes": 0, "margin": 1.0}
EXERCISE_DATA = {"dataset": "toy-1d"}


def _fix(section: object, defaults: object, values: dict, prefix: str) -> object:
    """`section` with `values` set; a key the user changed to something else is an error."""
    for key, value in values.items():
        current, default = getattr(section, key), getattr(defaults, key)
        if current not in (default, value):
            raise IncompatibleOptionsError(
                f"{prefix}.{key}", f"toy-triplet is the course exercise with {key} = {value!r}; "
                f"got {current!r} (use task.name = 'metric' to vary it)")
    return dataclasses.replace(section, **values)  # type: ignore[type-var]


def resolve_toy_triplet(cfg: Config) -> Config:
    """The config with the exercise's data set, model and loss filled in."""
    if cfg.task.name != "toy-triplet":
        return cfg
    task = _fix(cfg.task, TaskSection(), EXERCISE_TASK, "task")
    data = _fix(cfg.data, DataSection(), EXERCISE_DATA, "data")
    return dataclasses.replace(cfg, task=task, data=data)  # type: ignore[arg-type]


class ToyTripletTask(MetricTask):
    """Metric learning on the course's 1-D two-Gaussian data."""

    name = "toy-triplet"


TASKS.register("toy-triplet")(ToyTripletTask)
