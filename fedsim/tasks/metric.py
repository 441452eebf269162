"""Metric learning: train e(x) with a ranking loss so that same-class items are close.

Siamese (`pairwise_margin`), triplet (`triplet_margin`) or N-pair (`npair`,
`npair_in_batch`) training on class-balanced P x K batches; triplets and pairs come from
the configured online miner. The last `task.holdout_classes` classes never reach
training: they are the few-shot test (N-way K-shot by nearest prototype).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fedsim.config import ClientSection, Config
from fedsim.data import ArrayDataset, FederatedData
from fedsim.errors import ConfigError
from fedsim.losses import npair, npair_in_batch, pairwise_margin, triplet_margin
from fedsim.models import MODELS
from fedsim.models.embedding import EmbeddingNet
from fedsim.samplers import MINERS, PKBatchSampler, triplet_fractions
from fedsim.tasks.base import Artifact, TrainResult
from fedsim.tasks.embedding_plot import plot_embedding
from fedsim.tasks.inference import batched
from fedsim.tasks.local_sgd import local_sgd
from fedsim.tasks.metric_eval import few_shot_accuracy, knn_accuracy, recall_at_k
from fedsim.tasks.registry import TASKS

RANKING_LOSSES = ("triplet_margin", "pairwise_margin", "npair", "npair_in_batch")
MINED_LOSSES = ("triplet_margin", "pairwise_margin")
EPISODES = 200


def embed_all(model: nn.Module, data: ArrayDataset) -> torch.Tensor:
    """Embeddings of every example of `data`, in order (eval mode, no grad)."""
    model.eval()
    return batched(model, data.x, next(model.parameters()).device)


def class_pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(anchor, positive) index per class having two or more examples in the batch."""
    anchors, positives = [], []
    for c in labels.unique():
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) >= 2:
            anchors.append(idx[0])
            positives.append(idx[1])
    return torch.stack(anchors), torch.stack(positives)


def hardness(counts: dict[str, float]) -> dict[str, float]:
    """Shares of easy / semi-hard / hard among mined triplets (all keys, always: Flower
    aggregates only replies with identical metric keys)."""
    mined = sum(counts.values())
    return {f"triplets_{k}": counts.get(k, 0.0) / mined if mined else 0.0
            for k in ("easy", "semi_hard", "hard")}


class MetricTask:
    """Ranking-loss training of an embedding; metrics: kNN accuracy, recall@k, few-shot."""

    name = "metric"

    def __init__(self, cfg: Config, data: FederatedData) -> None:
        t = cfg.task
        if t.loss not in RANKING_LOSSES:
            raise ConfigError("task.loss", f"{self.name} trains with a ranking loss, got "
                              f"{t.loss!r}; allowed: {', '.join(RANKING_LOSSES)}")
        if t.loss in MINED_LOSSES:
            MINERS.get(t.miner)
        elif t.miner != "none":
            raise ConfigError("task.miner", f"{t.loss} builds its own tuples; set 'none'")
        if t.holdout_classes > data.num_classes - 2:
            raise ConfigError("task.holdout_classes", f"{t.holdout_classes} leaves fewer than 2 "
                              f"of the {data.num_classes} classes to train on; allowed: "
                              f"0..{data.num_classes - 2}")
        self.cfg, self._data = cfg, data
        self.heldout = tuple(range(data.num_classes - t.holdout_classes, data.num_classes))

    def build_model(self) -> nn.Module:
        """A backbone from ``task.model`` with a linear projection to ``task.embedding_dim``."""
        t, d = self.cfg.task, self._data
        backbone = MODELS.get(t.model)(d.image_shape, d.num_classes, t.width)
        return EmbeddingNet(backbone, d.image_shape, t.embedding_dim)

    def _seen(self, labels: np.ndarray) -> np.ndarray:
        return ~np.isin(labels, self.heldout)

    def ranking_loss(self, emb: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                     counts: dict[str, float]) -> torch.Tensor:
        """The configured loss on one batch; adds triplet hardness counts to `counts`."""
        t = self.cfg.task
        if t.loss in MINED_LOSSES:
            triplets = MINERS.get(t.miner).fn(emb.detach(), labels, t.margin, t.distance, generator)
            if len(triplets) == 0:
                return emb.sum() * 0.0
            for kind, share in triplet_fractions(emb.detach(), labels, triplets, t.margin,
                                                 t.distance).items():
                counts[kind] = counts.get(kind, 0.0) + share * len(triplets)
            a, p, n = triplets.T
            if t.loss == "triplet_margin":
                return triplet_margin(emb[a], emb[p], emb[n], t.margin, t.distance)
            same = torch.cat([torch.ones(len(a)), torch.zeros(len(a))]).to(emb.device)
            return pairwise_margin(emb[a].repeat(2, 1), torch.cat([emb[p], emb[n]]), same,
                                   t.margin, t.distance)
        anchors, positives = class_pairs(labels)
        if len(anchors) < 2:
            return emb.sum() * 0.0
        if t.loss == "npair_in_batch":
            return npair_in_batch(emb[anchors], emb[positives], t.temperature)
        others = torch.stack([torch.cat([positives[:i], positives[i + 1 :]])
                              for i in range(len(positives))])
        return npair(emb[anchors], emb[positives], emb[others], t.temperature)

    def train(self, model: nn.Module, shard: ArrayDataset, client: ClientSection,
              generator: torch.Generator, proximal_mu: float = 0.0) -> TrainResult:
        """Local training on P x K batches of the shard's non-held-out classes."""
        shard = shard.subset(np.flatnonzero(self._seen(shard.y)))
        classes = np.unique(shard.y)
        if len(classes) < 2:  # no negatives: nothing to learn, and no weight in the average
            return TrainResult(num_examples=0, steps=0, loss=0.0, metrics=hardness({}))
        p, k = min(self.cfg.task.pk_classes, len(classes)), self.cfg.task.pk_samples
        steps = client.local_steps or client.local_epochs * math.ceil(len(shard) / (p * k))
        batches = list(PKBatchSampler(shard.y, p, k, generator, steps))
        counts: dict[str, float] = {}

        def batch_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.ranking_loss(m(x), y, generator, counts)

        result = local_sgd(model, shard, client, generator, batch_loss, proximal_mu,
                           batches=[torch.as_tensor(b) for b in batches])
        return TrainResult(len(shard), result.steps, result.loss, hardness(counts))

    def per_example_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Batch-hard triplet loss with each example as anchor (an MIA score; [N])."""
        emb = model(x)
        d = torch.cdist(emb, emb) if self.cfg.task.distance == "euclidean" else 1 - emb @ emb.T
        same = y[:, None] == y[None, :]
        eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
        hardest_pos = d.masked_fill(~same | eye, float("-inf")).amax(1).clamp_min(0.0)
        hardest_neg = d.masked_fill(same, float("inf")).amin(1)
        return (self.cfg.task.margin + hardest_pos - hardest_neg).clamp_min(0.0)

    def evaluate(self, model: nn.Module, data: ArrayDataset) -> dict[str, float]:
        """Seen classes: kNN accuracy, recall@1/@5, triplet loss; held-out: 1/5-shot accuracy."""
        emb, labels = embed_all(model, data), torch.from_numpy(np.array(data.y))
        seen = torch.from_numpy(self._seen(data.y))
        dist = self.cfg.task.distance
        metrics = {"knn_accuracy": knn_accuracy(emb[seen], labels[seen], 5, dist)}
        recall = recall_at_k(emb[seen], labels[seen], (1, 5), dist)
        metrics.update({f"recall_at_{k}": v for k, v in recall.items()})
        metrics["loss"] = float(self.per_example_loss(nn.Identity(), emb[seen][:2000],
                                                      labels[seen][:2000]).mean())
        for shots in (1, 5):
            if self.heldout:
                metrics[f"fewshot_{shots}shot"] = few_shot_accuracy(
                    emb[~seen], labels[~seen], shots, EPISODES, np.random.default_rng(0), dist)
        return metrics

    def write_artifacts(
        self, model: nn.Module, data: FederatedData, run_dir: Path
    ) -> list[Artifact]:
        """PCA picture of the final dev embeddings (held-out classes marked)."""
        emb = embed_all(model, data.dev)
        plot_embedding(emb, torch.from_numpy(np.array(data.dev.y)), data.class_names,
                       self.heldout, run_dir / "embedding.png",
                       f"{self.cfg.task.loss} embeddings of the dev set (PCA)")
        return [Artifact("2-D embedding of the dev set", "embedding.png")]


TASKS.register("metric")(MetricTask)
