"""Per-example membership statistics of one model, for every task.

- `loss_scores`: minus the task's per-example loss (higher = more likely a member). Metric
  learning's own per-example loss reads the other examples of its batch, so for `metric`
  the score is minus the distance of an example's embedding to its class centroid in the
  central dev set: it depends on the example alone.
- `lira_statistics`: what LiRA fits Gaussians to: for `classify` the logit-scaled
  confidence log(p_y / (1 - p_y)) of the true class (Carlini et al. 2022), otherwise the
  same score as `loss_scores`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fedsim.data import ArrayDataset
from fedsim.tasks import Task

SCORE_BATCH = 256


@torch.no_grad()
def _per_batch(fn, data: ArrayDataset, device: torch.device) -> np.ndarray:  # type: ignore[no-untyped-def]
    """`fn(x, y)` over `data` in batches, concatenated as float64 numpy."""
    parts = []
    for start in range(0, len(data), SCORE_BATCH):
        x = torch.tensor(data.x[start : start + SCORE_BATCH], device=device)
        y = torch.tensor(data.y[start : start + SCORE_BATCH], device=device)
        parts.append(fn(x, y).detach().double().cpu())
    return torch.cat(parts).numpy() if parts else np.zeros(0)


def logit_confidence(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log(p_y / (1 - p_y)) of the softmax, computed stably as z_y - logsumexp(z_other)."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf"))
    return true - torch.logsumexp(others, dim=1)


def _centroid_distance(model: nn.Module, data: ArrayDataset, reference: ArrayDataset,
                       device: torch.device) -> np.ndarray:
    """Minus the distance of each embedding to its class's mean embedding in `reference`."""
    ref = torch.tensor(_per_batch(lambda x, y: model(x), reference, device))
    ref_y = torch.tensor(reference.y)
    emb = torch.tensor(_per_batch(lambda x, y: model(x), data, device))
    centroids = {int(c): ref[ref_y == c].mean(0) for c in ref_y.unique()}
    fallback = ref.mean(0)  # classes absent from the reference set (none on the fixed splits)
    targets = torch.stack([centroids.get(int(c), fallback) for c in data.y])
    return -(emb - targets).norm(dim=1).numpy()


def loss_scores(task: Task, model: nn.Module, data: ArrayDataset,
                reference: ArrayDataset) -> np.ndarray:
    """Membership score of each example of `data` (higher = member), float64 [N].

    `reference` is central data never trained on (the dev set), used by `metric` only.
    """
    model.eval()
    device = next(model.parameters()).device
    if task.name == "metric":
        return _centroid_distance(model, data, reference, device)
    return -_per_batch(lambda x, y: task.per_example_loss(model, x, y), data, device)


def lira_statistics(task: Task, model: nn.Module, data: ArrayDataset,
                    reference: ArrayDataset) -> np.ndarray:
    """The LiRA statistic of each example of `data`, float64 [N]."""
    if task.name != "classify":
        return loss_scores(task, model, data, reference)
    model.eval()
    device = next(model.parameters()).device
    return _per_batch(lambda x, y: logit_confidence(model(x), y), data, device)
