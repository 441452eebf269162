"""Train/dev/test overlap by hashing examples: the first check when a result looks too good.

Two examples collide when their inputs are byte-identical (labels are not compared: the same
image under two labels leaks just as well). Text rows are token windows, so a collision is a
repeated window (e.g. a verse that occurs twice in the corpus).
"""

from __future__ import annotations

import hashlib

import numpy as np

from fedsim.data.types import ArrayDataset, FederatedData

PAIRS = (("train", "dev"), ("train", "test"), ("dev", "test"))
HELDOUT_PAIRS = (("train", "heldout"),)


def row_hashes(x: np.ndarray) -> list[bytes]:
    """A 16-byte BLAKE2 digest of every row of `x` (dtype and shape included)."""
    prefix = f"{x.dtype}{x.shape[1:]}".encode()
    return [hashlib.blake2b(prefix + np.ascontiguousarray(row).tobytes(), digest_size=16).digest()
            for row in x]


def shared_rows(a: ArrayDataset, b: ArrayDataset) -> int:
    """How many rows of `b` have an input identical to some row of `a`."""
    seen = set(row_hashes(a.x))
    return sum(h in seen for h in row_hashes(b.x))


def split_overlap(data: FederatedData) -> dict[str, int]:
    """Per pair of splits (``train_dev``, ``train_test``, ``dev_test``, and ``train_heldout``
    for text corpora), the number of rows of the second split also present in the first."""
    splits = {"train": data.train, "dev": data.dev, "test": data.test}
    pairs = PAIRS
    if data.heldout is not None:
        splits["heldout"] = data.heldout
        pairs = PAIRS + HELDOUT_PAIRS
    hashes = {name: row_hashes(part.x) for name, part in splits.items()}
    sets = {name: set(h) for name, h in hashes.items()}
    return {f"{a}_{b}": sum(h in sets[a] for h in hashes[b]) for a, b in pairs}
