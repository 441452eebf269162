"""Text corpora as federated data: words, fixed splits inside each client, held-out clients.

A unit (verse, fortune) is lower-cased and cut into words and punctuation marks; units
longer than MAX_WORDS words become several units. Exact-duplicate units are dropped,
keeping the first, so no text is in two splits. Each unit is one example: `x` is a row of
word ids into the data set's lexicon (`FederatedData.words`, sorted, -1 padded) and `y` its
label (book or category). Which words a model knows is the task's business: it builds its
vocabulary from `train` alone, so the lexicon (every word of every split) never reaches it.

Splits are fixed (SPLIT_SEED, never the run seed): inside every label, 10% of its units go
to dev, 10% to test, the rest to train; the units of held-out labels go to `heldout` only.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fedsim.config import DataSection
from fedsim.data.corpora import Corpus
from fedsim.data.partition import partition_indices
from fedsim.data.types import ArrayDataset, FederatedData

if TYPE_CHECKING:
    from fedsim.data.sources import TextSource

SPLIT_SEED = 1_797  # the same constant as the image splits: never the run seed
DEV_PERCENT, TEST_PERCENT = 10, 10
MAX_WORDS = 128
PAD_WORD = -1
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]")
TRAIN, DEV, TEST, HELDOUT = range(4)


def split_words(text: str) -> list[str]:
    """Lower-cased words (with inner apostrophes) and single punctuation marks of `text`."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class TextSplits:
    """The fixed splits of one corpus; `train_clients` are the natural client ids of train."""

    train: ArrayDataset
    dev: ArrayDataset
    test: ArrayDataset
    heldout: ArrayDataset
    train_clients: np.ndarray
    words: tuple[str, ...]
    label_names: tuple[str, ...]


def unique_units(corpus: Corpus) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
    """(word tuples, labels, clients): units cut at MAX_WORDS, exact duplicates dropped."""
    seen: set[tuple[str, ...]] = set()
    units, keep = [], []
    for i, text in enumerate(corpus.texts):
        tokens = split_words(text)
        for start in range(0, len(tokens), MAX_WORDS):
            unit = tuple(tokens[start : start + MAX_WORDS])
            if unit not in seen:
                seen.add(unit)
                units.append(unit)
                keep.append(i)
    return units, corpus.labels[keep], corpus.clients[keep]


def split_roles(labels: np.ndarray, heldout: frozenset[int]) -> np.ndarray:
    """int8 role (TRAIN, DEV, TEST, HELDOUT) of each unit, fixed by SPLIT_SEED and its label."""
    roles = np.full(len(labels), TRAIN, dtype=np.int8)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if int(label) in heldout:
            roles[members] = HELDOUT
            continue
        order = members[np.random.default_rng([SPLIT_SEED, int(label)]).permutation(len(members))]
        n_dev, n_test = len(order) * DEV_PERCENT // 100, len(order) * TEST_PERCENT // 100
        roles[order[:n_dev]] = DEV
        roles[order[n_dev : n_dev + n_test]] = TEST
    return roles


def encode_units(units: list[tuple[str, ...]], words: tuple[str, ...]) -> np.ndarray:
    """int64 [N, longest unit]: each unit's word ids into `words`, padded with PAD_WORD."""
    index = {word: i for i, word in enumerate(words)}
    x = np.full((len(units), max((len(u) for u in units), default=1)), PAD_WORD, np.int64)
    for row, unit in enumerate(units):
        x[row, : len(unit)] = [index[word] for word in unit]
    return x


def build_text_splits(corpus: Corpus) -> TextSplits:
    """The fixed train/dev/test/heldout splits of `corpus`, as the module doc says."""
    units, labels, clients = unique_units(corpus)
    words = tuple(sorted({word for unit in units for word in unit}))
    x = encode_units(units, words)
    roles = split_roles(labels, corpus.heldout)

    def part(role: int) -> ArrayDataset:
        rows = np.flatnonzero(roles == role)
        return ArrayDataset(x[rows], labels[rows])

    train_clients = clients[roles == TRAIN]
    train_clients.setflags(write=False)
    return TextSplits(part(TRAIN), part(DEV), part(TEST), part(HELDOUT), train_clients, words,
                      corpus.label_names)  # fmt: skip


@functools.cache
def load_text_splits(source: TextSource) -> TextSplits:
    """The splits of a registered text source; read once per process."""
    return build_text_splits(source.read())


def federate_text(name: str, splits: TextSplits, data: DataSection, seed: int) -> FederatedData:
    """`splits` with train cut into `data.num_clients` shards (natural ids = train_clients)."""
    partitions = partition_indices(splits.train.y, data, seed, groups=splits.train_clients)
    for shard in partitions:
        shard.setflags(write=False)
    return FederatedData(
        name=name,
        train=splits.train,
        dev=splits.dev,
        test=splits.test,
        partitions=partitions,
        num_classes=len(splits.label_names),
        class_names=splits.label_names,
        image_shape=(1, 1, int(splits.train.x.shape[1])),  # not images: one row of word ids
        words=splits.words,
        heldout=splits.heldout if len(splits.heldout) else None,
    )


def text_pool(corpus: Corpus) -> ArrayDataset:
    """Every unique unit of `corpus` as one ArrayDataset (the DatasetSource.load view)."""
    units, labels, _ = unique_units(corpus)
    return ArrayDataset(encode_units(units, tuple(sorted({w for u in units for w in u}))), labels)
