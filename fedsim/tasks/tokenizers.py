"""Next-word tokenizers, built from the training split only, and the token windows they cut.

Both map each word of the data set's lexicon to a fixed list of token ids (`pieces`), so a
row of word ids becomes [BOS, tokens..., EOS] truncated to seq_len + 1 and PAD-filled, in
one vectorised gather (`token_windows`). A tokenizer is local state: it is rebuilt the same
way on every process from `data.train` and never crosses the wire (it is not a weight).

- word: the vocab_size - 4 most frequent training words (ties: alphabetical) plus
  PAD, BOS, EOS and OOV (the StackOverflow next-word benchmark's vocabulary).
- bpe: byte-level BPE (HF `tokenizers`) trained on the training units; no OOV exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fedsim.data.text import PAD_WORD, split_words

PAD, BOS, EOS, OOV = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>")
OOV_TOKEN = "<oov>"
BYTE_ALPHABET = 256


class Tokenizer(Protocol):
    """What the next-word task needs from a tokenizer."""

    size: int  # number of token ids (the model's vocabulary size)
    oov: int | None  # the out-of-vocabulary token (None: every text is encodable)
    excluded: tuple[int, ...]  # target ids that accuracy does not score
    pieces: np.ndarray  # int64 [lexicon words, K]: token ids of each word, -1 padded

    def encode_text(self, text: str) -> list[int]:
        """Token ids of raw text (no BOS/EOS)."""
        ...

    def decode(self, ids: list[int]) -> str:
        """Text of token ids, special tokens dropped."""
        ...


def word_counts(train_x: np.ndarray, num_words: int) -> np.ndarray:
    """int64 [num_words]: how often each lexicon word occurs in the training rows."""
    return np.bincount(train_x[train_x != PAD_WORD], minlength=num_words)


@dataclass(frozen=True)
class WordTokenizer:
    """Top-V training words plus PAD, BOS, EOS, OOV; other words map to OOV."""

    vocab: tuple[str, ...]  # token id -> word; ids 0..3 are the special tokens
    pieces: np.ndarray

    @property
    def size(self) -> int:
        return len(self.vocab)

    @property
    def oov(self) -> int | None:
        return OOV

    @property
    def excluded(self) -> tuple[int, ...]:
        return (PAD, EOS, OOV)

    @classmethod
    def build(cls, words: tuple[str, ...], train_x: np.ndarray, vocab_size: int) -> WordTokenizer:
        """The vocabulary of the `vocab_size - 4` most frequent words of `train_x`."""
        counts = word_counts(train_x, len(words))
        order = np.argsort(-counts, kind="stable")[: vocab_size - 4]
        order = order[counts[order] > 0]  # words absent from training never enter
        ids = np.full((len(words), 1), OOV, dtype=np.int64)
        ids[order, 0] = np.arange(4, 4 + len(order))
        return cls((*SPECIALS, OOV_TOKEN, *(words[i] for i in order)), ids)

    def encode_text(self, text: str) -> list[int]:
        index = {word: i for i, word in enumerate(self.vocab) if i > OOV}
        return [index.get(word, OOV) for word in split_words(text)]

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.vocab[i] for i in ids if i not in (PAD, BOS, EOS))


@dataclass(frozen=True)
class BpeTokenizer:
    """Byte-level BPE trained on the training units (HF `tokenizers`)."""

    model: object  # tokenizers.Tokenizer
    pieces: np.ndarray

    @property
    def size(self) -> int:
        return int(self.model.get_vocab_size())

    @property
    def oov(self) -> int | None:
        return None

    @property
    def excluded(self) -> tuple[int, ...]:
        return (PAD, EOS)

    @classmethod
    def build(cls, words: tuple[str, ...], train_x: np.ndarray, vocab_size: int) -> BpeTokenizer:
        """BPE with at most `vocab_size` tokens learnt from the training rows' text."""
        from tokenizers import Tokenizer as HfTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        model = HfTokenizer(models.BPE())
        model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        model.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=list(SPECIALS), show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )  # fmt: skip
        texts = (" ".join(words[i] for i in row if i != PAD_WORD) for row in train_x)
        model.train_from_iterator(texts, trainer, length=len(train_x))
        encoded = [e.ids for e in model.encode_batch(list(words))]
        pieces = np.full((len(words), max(map(len, encoded), default=1)), -1, dtype=np.int64)
        for row, ids in enumerate(encoded):
            pieces[row, : len(ids)] = ids
        return cls(model, pieces)

    def encode_text(self, text: str) -> list[int]:
        return list(self.model.encode(" ".join(split_words(text))).ids)

    def decode(self, ids: list[int]) -> str:
        return str(self.model.decode([i for i in ids if i not in (PAD, BOS, EOS)])).strip()


def token_windows(pieces: np.ndarray, x: np.ndarray, seq_len: int) -> np.ndarray:
    """int64 [N, seq_len + 1]: [BOS, tokens of row i..., EOS], truncated, PAD-filled.

    `x` holds rows of lexicon word ids (PAD_WORD = -1 padded). EOS is kept only when it
    fits: a truncated unit ends without one.
    """
    x = np.asarray(x, dtype=np.int64)
    gathered = np.where(x[..., None] != PAD_WORD, pieces[np.maximum(x, 0)], -1).reshape(len(x), -1)
    present = gathered >= 0
    tokens = np.take_along_axis(gathered, np.argsort(~present, axis=1, kind="stable"), axis=1)
    tokens = tokens[:, :seq_len]
    out = np.full((len(x), seq_len + 1), PAD, dtype=np.int64)
    out[:, 0] = BOS
    out[:, 1 : 1 + tokens.shape[1]] = np.where(tokens >= 0, tokens, PAD)
    end = 1 + present.sum(axis=1)
    fits = np.flatnonzero(end <= seq_len)
    out[fits, end[fits]] = EOS
    return out


def build_tokenizer(
    kind: str, words: tuple[str, ...], train_x: np.ndarray, vocab_size: int
) -> Tokenizer:
    """The `kind` ("word" | "bpe") tokenizer of the training rows `train_x`."""
    builder = WordTokenizer if kind == "word" else BpeTokenizer
    return builder.build(words, train_x, vocab_size)
