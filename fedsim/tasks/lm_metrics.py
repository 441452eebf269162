"""Language-model loss and next-word metrics as pure functions of logits and targets.

- token loss: cross-entropy of each target token; PAD targets count 0 and are not tokens.
- sequence loss: mean token loss over a sequence's non-PAD targets (one per example: the
  training loss is their mean, DP clips per sequence, membership inference scores them).
- perplexity: exp(mean token loss over every non-PAD target of the data).
- accuracy / top3_accuracy: share of scored targets that are the argmax / among the 3
  highest logits; targets in `excluded` (PAD, EOS, and OOV for the word tokenizer) are not
  scored, but a prediction of OOV or EOS for a scored target counts as wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def token_losses(logits: torch.Tensor, targets: torch.Tensor, pad: int) -> torch.Tensor:
    """[B, T] cross-entropy of each target under `logits` [B, T, V]; 0 where target is PAD.

    Flattened to [B*T, V] rows: on CPU, about 2.4x faster forward and 2.2x forward+backward
    than the class-dimension-second form `cross_entropy(logits.transpose(1, 2), ...)`.
    """
    flat = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad,
        reduction="none",
    )
    return flat.view(targets.shape)


def sequence_losses(logits: torch.Tensor, targets: torch.Tensor, pad: int) -> torch.Tensor:
    """[B] mean token loss of each sequence over its non-PAD targets."""
    counts = (targets != pad).sum(dim=1).clamp(min=1)
    return token_losses(logits, targets, pad).sum(dim=1) / counts


@dataclass(frozen=True)
class Tally:
    """Sums over evaluated batches, from which the metrics follow."""

    loss_sum: float = 0.0
    tokens: int = 0  # non-PAD targets
    scored: int = 0  # targets accuracy scores (not in `excluded`)
    top1: int = 0
    top3: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[float, int, int, int, int]:
        return (self.loss_sum, self.tokens, self.scored, self.top1, self.top3)

    def metrics(self) -> dict[str, float]:
        """loss (mean token cross-entropy), perplexity, accuracy, top3_accuracy."""
        loss = self.loss_sum / self.tokens if self.tokens else 0.0
        return {
            "loss": loss,
            "perplexity": math.exp(min(loss, 700.0)),
            "accuracy": self.top1 / self.scored if self.scored else 0.0,
            "top3_accuracy": self.top3 / self.scored if self.scored else 0.0,
        }


def tally(
    logits: torch.Tensor, targets: torch.Tensor, pad: int, excluded: tuple[int, ...]
) -> Tally:
    """The Tally of one batch: `logits` [B, T, V], `targets` [B, T]."""
    scored = ~torch.isin(targets, torch.tensor(excluded, device=targets.device))
    top = logits.topk(min(3, logits.shape[-1]), dim=-1).indices
    hits = top == targets.unsqueeze(-1)
    return Tally(
        loss_sum=float(token_losses(logits, targets, pad).sum()),
        tokens=int((targets != pad).sum()),
        scored=int(scored.sum()),
        top1=int((hits[..., 0] & scored).sum()),
        top3=int((hits.any(dim=-1) & scored).sum()),
    )


def unigram_accuracy(
    train_targets: torch.Tensor, eval_targets: torch.Tensor, excluded: tuple[int, ...]
) -> tuple[int, float]:
    """(token, accuracy): always predicting the most frequent scored training target.

    The baseline next-word accuracy of a model that ignores the context.
    """
    keep = ~torch.isin(train_targets, torch.tensor(excluded))
    token = int(torch.bincount(train_targets[keep].flatten()).argmax())
    scored = ~torch.isin(eval_targets, torch.tensor(excluded))
    hits = int(((eval_targets == token) & scored).sum())
    return token, hits / max(int(scored.sum()), 1)
