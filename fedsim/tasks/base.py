"""The Task protocol: what a federated task must provide to clients and to the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from fedsim.config import ClientSection
from fedsim.data import ArrayDataset


@dataclass(frozen=True)
class TrainResult:
    """What one client's local training produced (the model is updated in place)."""

    num_examples: int  # distinct examples used; FedAvg weighs the update by it
    steps: int  # optimizer steps taken
    loss: float  # mean training loss over the steps
    metrics: dict[str, float] = field(default_factory=dict)  # task-specific, sent to the server


class Task(Protocol):
    """A federated task: a model, how to train it on a shard, how to score it."""

    name: str

    def build_model(self) -> nn.Module:
        """A freshly initialised model (uses torch's global RNG: seed it first)."""
        ...

    def train(
        self,
        model: nn.Module,
        shard: ArrayDataset,
        client: ClientSection,
        generator: torch.Generator,
        proximal_mu: float = 0.0,
    ) -> TrainResult:
        """Train `model` in place on `shard`; batches drawn with `generator`."""
        ...

    def evaluate(self, model: nn.Module, data: ArrayDataset) -> dict[str, float]:
        """Metrics of `model` on `data` (always includes "loss")."""
        ...

    def per_example_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of each example, shape [N] (membership inference and DP use it)."""
        ...


@dataclass(frozen=True)
class Artifact:
    """A file a task wrote into the run directory for the report (PNG, Markdown, ...)."""

    title: str
    file: str


def task_artifacts(task: object, model: nn.Module, data: object, run_dir: object) -> list[Artifact]:
    """Call the task's optional `write_artifacts(model, data, run_dir)` hook."""
    hook = getattr(task, "write_artifacts", None)
    return list(hook(model, data, run_dir)) if hook else []


def task_round_metrics(
    task: object, model: nn.Module, server_round: int, run_dir: object, writer: object = None
) -> dict[str, float]:
    """Call the task's optional `round_metrics(model, server_round, run_dir, writer)` hook:
    extra central metrics of this round (expensive ones every few rounds; {} otherwise); it
    may write files into `run_dir` and images to the TensorBoard `writer`."""
    hook = getattr(task, "round_metrics", None)
    return dict(hook(model, server_round, run_dir, writer)) if hook else {}
