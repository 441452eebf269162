"""Next-word language models: a small GPT-2 (transformers, from config) and an LSTM baseline.

Both map token ids [B, T] to logits [B, T, V]. Nothing is downloaded: GPT-2 is built from a
`GPT2Config` with random weights. Dropout is off (the client RNG streams are the only
randomness, so runs stay bitwise reproducible), and input and output embeddings are untied
(safetensors refuses tensors that share memory). GPT-2 always gets explicit
`position_ids = arange(T).repeat(B, 1)`: Opacus' per-sample gradients need them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fedsim.errors import ConfigError
from fedsim.models.cnn import MODELS
from fedsim.registry import Registry

GPT2_LAYERS, GPT2_HEADS = 2, 2

# (vocab_size, seq_len, width) -> model; width = embedding size (GPT-2 n_embd, LSTM hidden)
LanguageModelFactory = Callable[[int, int, int], nn.Module]
LANGUAGE_MODELS: Registry[LanguageModelFactory] = Registry("language model", "task.model")


class GPT2LanguageModel(nn.Module):
    """transformers' GPT2LMHeadModel: GPT2_LAYERS blocks, GPT2_HEADS heads, n_embd = width."""

    def __init__(self, vocab_size: int, seq_len: int, width: int) -> None:
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel  # slow import: only when used

        config = GPT2Config(
            vocab_size=vocab_size, n_positions=seq_len, n_embd=width, n_layer=GPT2_LAYERS,
            n_head=GPT2_HEADS, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            tie_word_embeddings=False, bos_token_id=None, eos_token_id=None, pad_token_id=None,
        )  # fmt: skip
        self.gpt = GPT2LMHeadModel(config)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits [B, T, V] (causal: position t sees tokens 0..t)."""
        positions = torch.arange(ids.shape[1], device=ids.device).repeat(ids.shape[0], 1)
        return self.gpt(input_ids=ids, position_ids=positions).logits


class LSTMLanguageModel(nn.Module):
    """Embedding -> one LSTM layer -> linear head; embedding and hidden size = width."""

    def __init__(self, vocab_size: int, seq_len: int, width: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width)
        self.lstm = nn.LSTM(width, width, batch_first=True)
        self.head = nn.Linear(width, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits [B, T, V]."""
        hidden, _ = self.lstm(self.embed(ids))
        return self.head(hidden)


LANGUAGE_MODELS.register("gpt2")(GPT2LanguageModel)
LANGUAGE_MODELS.register("lstm")(LSTMLanguageModel)


def _language_only(name: str) -> Callable[..., nn.Module]:
    """A MODELS entry for a language model: image tasks that pick it get a clear error."""

    def refuse(*args: object, **kwargs: object) -> nn.Module:
        image_models = ", ".join(n for n in MODELS.names() if n not in LANGUAGE_MODELS)
        raise ConfigError(
            "task.model",
            f"{name!r} is a language model for task 'nextword'; image models: {image_models}",
        )

    return refuse


for _name in LANGUAGE_MODELS.names():  # `fedsim list` and the name check see them too
    MODELS.register(_name)(_language_only(_name))
