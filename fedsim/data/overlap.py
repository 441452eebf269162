"""Train/dev/test overlap by hashing examples: the first check when a result looks too good.

Two examples collide when their inputs are byte-identical (labels are not compared: the same
image under two labels leaks just as well). Text rows are token windows, so a collision is a
repeated window (e.g. a verse that occurs twice in the corpus).
"""

from __future__ import annotations

import numpy as np

from fedsim.data.types import ArrayDataset, FederatedData

PAIRS = (("train", "dev"), ("train", "test"), ("dev", "test"))
HELDOUT_PAIRS = (("train", "heldout"),)
# Odd 64-bit weights of the row key (fixed: keys are compared within one process only).
_WEIGHTS_SEED = 20261128


class _Rows:
    """The rows of one split's inputs as bytes, with a 64-bit key per row for a quick
    vectorised first match (exactness comes from comparing the bytes of key matches)."""

    def __init__(self, x: np.ndarray) -> None:
        width = int(np.prod(x.shape[1:]))  # not -1: a split may be empty
        flat = np.ascontiguousarray(x).reshape(len(x), width).view(np.uint8)
        self.kind = (str(x.dtype), x.shape[1:])
        self.bytes = flat
        padded = np.pad(flat, ((0, 0), (0, -flat.shape[1] % 8))) if flat.shape[1] % 8 else flat
        words = padded.view(np.uint64)
        weights = np.random.default_rng(_WEIGHTS_SEED).integers(
            1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)  # fmt: skip
        self.keys = words @ weights  # wraps modulo 2**64: a linear hash of the row's words

    def row(self, i: int) -> bytes:
        return self.bytes[i].tobytes()


def _shared(a: _Rows, b: _Rows) -> int:
    """How many rows of `b` are byte-identical to some row of `a`."""
    if a.kind != b.kind or not len(a.keys) or not len(b.keys):
        return 0
    candidates = np.flatnonzero(np.isin(b.keys, a.keys))  # every identical row, maybe more
    if not candidates.size:
        return 0
    known = {a.row(i) for i in np.flatnonzero(np.isin(a.keys, b.keys[candidates]))}
    return sum(b.row(j) in known for j in candidates)


def shared_rows(a: ArrayDataset, b: ArrayDataset) -> int:
    """How many rows of `b` have an input identical to some row of `a` (same dtype, shape
    and bytes)."""
    return _shared(_Rows(a.x), _Rows(b.x))


def split_overlap(data: FederatedData) -> dict[str, int]:
    """Per pair of splits (``train_dev``, ``train_test``, ``dev_test``, and ``train_heldout``
    for text corpora), the number of rows of the second split also present in the first.

    Vectorised: ~0.1 s for Fashion-MNIST's 70k images, against 0.66 s hashing every row with
    BLAKE2 in Python (the earlier version), which every run paid at its end."""
    splits = {"train": data.train, "dev": data.dev, "test": data.test}
    pairs = PAIRS
    if data.heldout is not None:
        splits["heldout"] = data.heldout
        pairs = PAIRS + HELDOUT_PAIRS
    rows = {name: _Rows(part.x) for name, part in splits.items()}
    return {f"{a}_{b}": _shared(rows[a], rows[b]) for a, b in pairs}
