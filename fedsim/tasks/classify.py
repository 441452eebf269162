"""Image classification with cross-entropy: the foundation task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fedsim.config import Config
from fedsim.data import ArrayDataset, FederatedData
from fedsim.errors import ConfigError
from fedsim.models import MODELS
from fedsim.tasks.base import Artifact
from fedsim.tasks.embedding_plot import plot_embedding
from fedsim.tasks.local_sgd import LocalSGDTraining
from fedsim.tasks.metric_eval import knn_accuracy
from fedsim.tasks.registry import TASKS

EVAL_BATCH = 1024


class ClassifyTask(LocalSGDTraining):
    """Softmax classifier over the data set's classes; metrics: loss and accuracy."""

    name = "classify"

    def __init__(self, cfg: Config, data: FederatedData) -> None:
        if cfg.task.loss != "cross_entropy":
            raise ConfigError(
                "task.loss", f"classify trains with 'cross_entropy', got {cfg.task.loss!r}"
            )
        if cfg.task.miner != "none":
            raise ConfigError(
                "task.miner", f"classify uses no negative miner; set 'none', got {cfg.task.miner!r}"
            )
        self._factory = MODELS.get(cfg.task.model)
        self._width = cfg.task.width
        self._shape = data.image_shape
        self._classes = data.num_classes

    def build_model(self) -> nn.Module:
        """A freshly initialised classifier."""
        return self._factory(self._shape, self._classes, self._width)

    def per_example_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of each example."""
        return F.cross_entropy(model(x), y, reduction="none")

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y)


    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: ArrayDataset) -> dict[str, float]:
        """Mean cross-entropy and accuracy on `data`."""
        model.eval()
        device = next(model.parameters()).device
        loss_sum, correct = 0.0, 0
        for start in range(0, len(data), EVAL_BATCH):
            x = torch.tensor(data.x[start : start + EVAL_BATCH], device=device)
            y = torch.tensor(data.y[start : start + EVAL_BATCH], device=device)
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
        n = max(len(data), 1)
        knn = knn_accuracy(self.features(model, data), torch.from_numpy(np.array(data.y)), 5,
                           "euclidean") if len(data) > 5 else float("nan")
        return {"loss": loss_sum / n, "accuracy": correct / n, "knn_accuracy": knn}

    @torch.no_grad()
    def features(self, model: nn.Module, data: ArrayDataset) -> torch.Tensor:
        """Penultimate-layer features of every example (what kNN and the plot compare)."""
        model.eval()
        device = next(model.parameters()).device
        parts = [model.embed(torch.tensor(data.x[s : s + EVAL_BATCH], device=device)).cpu()
                 for s in range(0, len(data), EVAL_BATCH)]
        return torch.cat(parts)

    def write_artifacts(
        self, model: nn.Module, data: FederatedData, run_dir: Path
    ) -> list[Artifact]:
        """PCA picture of the penultimate-layer features of the dev set."""
        plot_embedding(self.features(model, data.dev), torch.from_numpy(np.array(data.dev.y)),
                       data.class_names, (), run_dir / "embedding.png",
                       "cross-entropy penultimate features of the dev set (PCA)")
        return [Artifact("2-D embedding of the dev set (penultimate layer)", "embedding.png")]


TASKS.register("classify")(ClassifyTask)
