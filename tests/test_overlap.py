"""Split overlap (fedsim.data.overlap): the vectorised count equals a plain byte-set count."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.data import ArrayDataset, overlap
from fedsim.data.overlap import shared_rows

# few distinct values, so that equal rows are common; -0.0 and 0.0 differ in their bytes
# (and so count as different inputs), one NaN bit pattern equals itself
VALUES = np.array([0.0, -0.0, 1.0, 0.5, np.nan], dtype=np.float32)


def reference(a: np.ndarray, b: np.ndarray) -> int:
    """Rows of `b` whose dtype, shape and bytes equal some row of `a`."""
    if a.dtype != b.dtype or a.shape[1:] != b.shape[1:]:
        return 0
    seen = {row.tobytes() for row in a}
    return sum(row.tobytes() in seen for row in b)


def images(codes: list[int], width: int) -> np.ndarray:
    """float32 [N, 1, 1, width] rows built from `codes` (indices into VALUES)."""
    flat = VALUES[np.array(codes, dtype=np.int64) % len(VALUES)]
    return flat.reshape(-1, 1, 1, width)


@st.composite
def image_pair(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    width = draw(st.integers(1, 5))  # 4..20 bytes a row: multiples of 8 and not
    codes = st.lists(st.integers(0, 4), min_size=0, max_size=12 * width)
    a = draw(codes.map(lambda c: c[: len(c) // width * width]))
    b = draw(codes.map(lambda c: c[: len(c) // width * width]))
    return images(a, width), images(b, width)


@settings(max_examples=150, deadline=None)
@given(image_pair())
def test_shared_image_rows_equal_a_byte_set_count(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    assert shared_rows(ArrayDataset(a, np.zeros(len(a), np.int64)),
                       ArrayDataset(b, np.zeros(len(b), np.int64))) == reference(a, b)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(-1, 3), min_size=3, max_size=3), max_size=15),
       st.lists(st.lists(st.integers(-1, 3), min_size=3, max_size=3), max_size=15))  # fmt: skip
def test_shared_token_rows_equal_a_byte_set_count(a_rows: list, b_rows: list) -> None:
    a = np.array(a_rows, dtype=np.int64).reshape(-1, 3)
    b = np.array(b_rows, dtype=np.int64).reshape(-1, 3)
    data_a, data_b = ArrayDataset(a, np.zeros(len(a), np.int64)), ArrayDataset(b, np.zeros(
        len(b), np.int64))  # fmt: skip
    assert shared_rows(data_a, data_b) == reference(a, b)


def test_rows_of_another_shape_never_match() -> None:
    a = np.zeros((2, 1, 1, 2), np.float32)
    b = np.zeros((2, 1, 2, 1), np.float32)  # the same bytes, another image shape
    assert shared_rows(ArrayDataset(a, np.zeros(2, np.int64)),
                       ArrayDataset(b, np.zeros(2, np.int64))) == 0  # fmt: skip


def test_key_collisions_are_settled_by_the_bytes(monkeypatch) -> None:
    """With every row given the same key, only byte-identical rows still count."""
    rows_class = overlap._Rows

    class Colliding(rows_class):  # type: ignore[misc, valid-type]
        def __init__(self, x: np.ndarray) -> None:
            super().__init__(x)
            self.keys = np.zeros_like(self.keys)

    monkeypatch.setattr(overlap, "_Rows", Colliding)
    a = images([0, 2, 3, 3, 4, 2], 2)
    b = images([0, 2, 2, 3, 4, 2, 1, 1], 2)  # rows (0, 1.0), (1.0, 0.5), (nan, 1.0), (-0, -0)
    expected = reference(a, b)
    assert expected == 2
    assert shared_rows(ArrayDataset(a, np.zeros(3, np.int64)),
                       ArrayDataset(b, np.zeros(4, np.int64))) == expected  # fmt: skip
