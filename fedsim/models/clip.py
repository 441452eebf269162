"""CLIP towers: an image encoder, a text encoder, one learnable temperature.

The image tower is a registered backbone plus a linear projection (`EmbeddingNet`). The
text tower is either a linear projection of frozen MiniLM caption features (LiT: the
features are computed outside the model, see `fedsim.models.minilm`) or a small
`transformers.CLIPTextModel` trained from random init over a character vocabulary
(`CharTokenizer`). Both towers end in unit vectors of ``task.embedding_dim``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

INIT_TEMPERATURE = 0.07  # CLIP: logit scale starts at log(1 / 0.07)
MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clamps the scale at 100


class ClipModel(nn.Module):
    """Image and text towers with a shared embedding space and a learnable logit scale."""

    def __init__(self, image: nn.Module, text: nn.Module) -> None:
        super().__init__()
        self.image = image
        self.text = text
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / INIT_TEMPERATURE)))

    def scale(self) -> torch.Tensor:
        """The log inverse temperature, clamped to [0, log 100] as CLIP does."""
        return self.logit_scale.clamp(0.0, MAX_LOGIT_SCALE)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """Unit image embeddings [N, D]."""
        return F.normalize(self.image(x), dim=-1)

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        """Unit text embeddings [N, D] of text inputs (features or token ids, per tower)."""
        return F.normalize(self.text(text), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image embeddings (so generic embedding code can use the model as an encoder)."""
        return self.encode_image(x)


class ProjectedFeatures(nn.Module):
    """Text tower over frozen features: a trainable linear map features -> embedding."""

    def __init__(self, feature_dim: int, dim: int) -> None:
        super().__init__()
        self.project = nn.Linear(feature_dim, dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Projected features [N, dim]."""
        return self.project(features)


class CharTokenizer:
    """Characters -> ids with fixed special tokens; every sequence ends with EOS.

    Ids: 0 pad, 1 bos, 2 unk, 3 eos, then the vocabulary's characters in sorted order.
    EOS is not 2: `CLIPTextModel` treats eos_token_id 2 as a legacy config and pools the
    highest id instead of the EOS position.
    """

    PAD, BOS, UNK, EOS = 0, 1, 2, 3

    def __init__(self, texts: tuple[str, ...], max_len: int) -> None:
        chars = sorted({c for text in texts for c in text})
        self.ids = {c: i + 4 for i, c in enumerate(chars)}
        self.max_len = max_len

    @property
    def vocab_size(self) -> int:
        """Number of ids (specials included)."""
        return len(self.ids) + 4

    def encode(self, texts: tuple[str, ...]) -> torch.Tensor:
        """int64 [N, max_len]: BOS, characters (cut to fit), EOS, then padding."""
        rows = torch.full((len(texts), self.max_len), self.PAD, dtype=torch.int64)
        for i, text in enumerate(texts):
            body = [self.ids.get(c, self.UNK) for c in text][: self.max_len - 2]
            ids = [self.BOS, *body, self.EOS]
            rows[i, : len(ids)] = torch.tensor(ids)
        return rows


class CharTransformerText(nn.Module):
    """A small causal text transformer (`CLIPTextModel`, random init) pooled at EOS."""

    def __init__(self, vocab_size: int, max_len: int, dim: int, width: int = 64,
                 layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModel

        config = CLIPTextConfig(
            vocab_size=vocab_size, hidden_size=width, intermediate_size=2 * width,
            num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=max_len,
            pad_token_id=CharTokenizer.PAD, bos_token_id=CharTokenizer.BOS,
            eos_token_id=CharTokenizer.EOS, projection_dim=dim,
        )
        self.encoder = CLIPTextModel(config)
        self.project = nn.Linear(width, dim, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Embeddings [N, dim] of token ids [N, L] (each row holds one EOS)."""
        mask = (ids != CharTokenizer.PAD).long()
        pooled = self.encoder(input_ids=ids, attention_mask=mask).pooler_output
        return self.project(pooled)
