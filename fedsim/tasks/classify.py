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
from fedsim.tasks.inference import batched
from fedsim.tasks.local_sgd import LocalSGDTraining
from fedsim.tasks.metric_eval import knn_accuracy
from fedsim.tasks.registry import TASKS

KNN_EXAMPLES = 2000  # examples scored by knn_accuracy (dev/test of fashion-mnist: 10,000)


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
        """Mean cross-entropy, accuracy, and leave-one-out 5-NN accuracy of the penultimate
        features among the first KNN_EXAMPLES examples (split order is already shuffled)."""
        features = self.features(model, data)
        logits = model.head(features.to(next(model.parameters()).device)).cpu()
        y = torch.from_numpy(np.array(data.y))
        n = max(len(data), 1)
        head = slice(0, KNN_EXAMPLES)  # leave-one-out kNN is quadratic: a fixed prefix
        knn = knn_accuracy(features[head], y[head], 5, "euclidean") if n > 5 else float("nan")
        return {"loss": float(F.cross_entropy(logits, y, reduction="sum")) / n,
                "accuracy": float((logits.argmax(1) == y).sum()) / n, "knn_accuracy": knn}

    def features(self, model: nn.Module, data: ArrayDataset) -> torch.Tensor:
        """Penultimate-layer features of every example (what kNN and the plot compare)."""
        model.eval()
        return batched(model.embed, data.x, next(model.parameters()).device)

    def write_artifacts(
        self, model: nn.Module, data: FederatedData, run_dir: Path
    ) -> list[Artifact]:
        """PCA picture of the penultimate-layer features of the dev set."""
        plot_embedding(self.features(model, data.dev), torch.from_numpy(np.array(data.dev.y)),
                       data.class_names, (), run_dir / "embedding.png",
                       "cross-entropy penultimate features of the dev set (PCA)")
        return [Artifact("2-D embedding of the dev set (penultimate layer)", "embedding.png")]


TASKS.register("classify")(ClassifyTask)
