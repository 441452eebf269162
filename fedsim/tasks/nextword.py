"""Next-word prediction: federated language models on natural text shards (KJV, fortunes).

An example is one unit of text (verse, fortune): a row of lexicon word ids in the data,
turned by the task's tokenizer into [BOS, tokens..., EOS] (seq_len + 1 ids, PAD-filled);
the model reads ids[:, :-1] and predicts ids[:, 1:]. Metrics: see `lm_metrics`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fedsim.config import Config
from fedsim.data import ArrayDataset, FederatedData
from fedsim.errors import ConfigError
from fedsim.models.language import GPT2_HEADS, LANGUAGE_MODELS
from fedsim.tasks.base import Artifact
from fedsim.tasks.lm_metrics import Tally, sequence_losses, tally
from fedsim.tasks.local_sgd import LocalSGDTraining
from fedsim.tasks.nextword_outputs import write_nextword_outputs
from fedsim.tasks.registry import TASKS
from fedsim.tasks.tokenizers import (
    BYTE_ALPHABET,
    PAD,
    SPECIALS,
    Tokenizer,
    build_tokenizer,
    token_windows,
)

EVAL_BATCH = 128
TEXT_DATASETS_HINT = "fortunes, kjv, kjv-chapters"


class _Same:
    """Hashes by identity: lets lru_cache key on the (read-only, cached) training arrays."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


@functools.lru_cache(maxsize=8)
def _tokenizer(kind: str, words: _Same, train_x: _Same, vocab_size: int) -> Tokenizer:
    return build_tokenizer(kind, words.value, train_x.value, vocab_size)


def check_nextword_config(cfg: Config, data: FederatedData) -> None:
    """ConfigError naming the key when `cfg` cannot train a next-word model on `data`."""
    task = cfg.task
    if not data.words:
        raise ConfigError(
            "data.dataset",
            f"task 'nextword' needs a text data set ({TEXT_DATASETS_HINT}); "
            f"{data.name!r} holds images",
        )
    if task.model not in LANGUAGE_MODELS:
        allowed = ", ".join(LANGUAGE_MODELS.names())
        raise ConfigError(
            "task.model", f"{task.model!r} is not a next-word model; allowed: {allowed}"
        )
    if task.loss != "cross_entropy":
        raise ConfigError("task.loss", f"nextword trains with 'cross_entropy', got {task.loss!r}")
    if task.miner != "none":
        raise ConfigError(
            "task.miner", f"nextword uses no negative miner; set 'none', got {task.miner!r}"
        )
    if task.model == "gpt2" and task.width % GPT2_HEADS:
        raise ConfigError(
            "task.width", f"gpt2 splits width over {GPT2_HEADS} heads; use a multiple of "
            f"{GPT2_HEADS}, got {task.width}",
        )  # fmt: skip
    minimum = BYTE_ALPHABET + len(SPECIALS)
    if task.tokenizer == "bpe" and task.vocab_size < minimum:
        raise ConfigError(
            "task.vocab_size", f"byte-level BPE needs at least {minimum} tokens (256 bytes + "
            f"PAD, BOS, EOS), got {task.vocab_size}",
        )  # fmt: skip


class NextWordTask(LocalSGDTraining):
    """Causal language model over the task's tokenizer; metrics: loss, perplexity, accuracy."""

    name = "nextword"

    def __init__(self, cfg: Config, data: FederatedData) -> None:
        check_nextword_config(cfg, data)
        self._factory = LANGUAGE_MODELS.get(cfg.task.model)
        self.model_name = cfg.task.model
        self.seq_len = cfg.task.seq_len
        self._seed = cfg.run.seed
        self._width = cfg.task.width
        self.tokenizer = _tokenizer(
            cfg.task.tokenizer, _Same(data.words), _Same(data.train.x), cfg.task.vocab_size
        )

    def build_model(self) -> nn.Module:
        """A freshly initialised language model over the tokenizer's vocabulary."""
        return self._factory(self.tokenizer.size, self.seq_len, self._width)

    def windows(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Token windows [N, seq_len + 1] of data rows `x` (lexicon word ids)."""
        rows = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        return torch.from_numpy(token_windows(self.tokenizer.pieces, rows, self.seq_len))

    def targets(self, data: ArrayDataset) -> torch.Tensor:
        """Target ids [N, seq_len] of every example of `data` (windowed in chunks)."""
        chunks = range(0, max(len(data), 1), EVAL_BATCH)
        return torch.cat([self.windows(data.x[i : i + EVAL_BATCH])[:, 1:] for i in chunks])

    def per_example_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[N] mean token cross-entropy of each sequence over its non-PAD targets."""
        ids = self.windows(x).to(next(model.parameters()).device)
        return sequence_losses(model(ids[:, :-1]), ids[:, 1:], PAD)

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.per_example_loss(model, x, y).mean()


    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: ArrayDataset) -> dict[str, float]:
        """loss (mean token cross-entropy), perplexity, accuracy and top3_accuracy."""
        model.eval()
        device = next(model.parameters()).device
        total = Tally()
        for start in range(0, len(data), EVAL_BATCH):
            ids = self.windows(data.x[start : start + EVAL_BATCH]).to(device)
            logits = model(ids[:, :-1])
            total = total + tally(logits, ids[:, 1:], PAD, self.tokenizer.excluded)
        return total.metrics()

    def write_artifacts(
        self, model: nn.Module, data: FederatedData, run_dir: Path
    ) -> list[Artifact]:
        """Held-out-client metrics, the unigram baseline and generated samples of the run."""
        return write_nextword_outputs(self, model, data, run_dir, self._seed)


TASKS.register("nextword")(NextWordTask)

