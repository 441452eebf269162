"""fedsim.engine.fast_arrays gives exactly what Flower's own Array conversions give."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flwr.app import Array, ArrayRecord
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedsim.engine import fast_arrays

DTYPES = st.sampled_from(["<f4", "<f8", ">f4", "<f2", "<i8", "<i4", "|u1", "|b1", "<c8"])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
ARRAYS = DTYPES.flatmap(lambda d: hnp.arrays(np.dtype(d), SHAPES))


@pytest.fixture(autouse=True)
def _flower_first():
    """Each test starts from Flower's own methods and leaves them so."""
    fast_arrays.uninstall()
    yield
    fast_arrays.uninstall()


def _flower_bytes(values: np.ndarray) -> bytes:
    fast_arrays.uninstall()
    return Array(values).data


@settings(max_examples=150, deadline=None)
@given(values=ARRAYS, fortran=st.booleans())
@example(values=np.arange(12.0).reshape(3, 4), fortran=True)
def test_writing_gives_np_save_bytes(values: np.ndarray, fortran: bool) -> None:
    values = np.asfortranarray(values) if fortran else values
    expected = _flower_bytes(values)
    fast_arrays.install()
    for _ in range(2):  # the first call caches the header, the second uses it
        array = Array(values)
        assert array.data == expected
        assert (array.dtype, tuple(array.shape)) == (str(values.dtype), values.shape)


@settings(max_examples=150, deadline=None)
@given(values=ARRAYS, fortran=st.booleans(), strided=st.booleans())
@example(values=np.arange(12.0).reshape(3, 4), fortran=True, strided=False)
@example(values=np.arange(24, dtype=np.int32).reshape(2, 3, 4), fortran=False, strided=True)
def test_reading_gives_np_load_arrays(values: np.ndarray, fortran: bool, strided: bool) -> None:
    values = np.asfortranarray(values) if fortran else values
    values = values[::2] if strided and values.ndim else values
    array = Array(values)
    expected = array.numpy()
    fast_arrays.install()
    for _ in range(2):
        got = array.numpy()
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes(order="C") == expected.tobytes(order="C")  # same values, in order
        assert got.flags.f_contiguous == expected.flags.f_contiguous
        assert got.flags.writeable and not np.shares_memory(got, np.frombuffer(array.data, "u1"))


def test_torch_state_dicts_round_trip_through_the_fast_path() -> None:
    state = {"w": torch.randn(7, 3), "b": torch.arange(5), "s": torch.tensor(2.5)}
    fast_arrays.install()
    record = ArrayRecord(state)
    back = record.to_torch_state_dict()
    assert all(torch.equal(back[k], v) and back[k].dtype == v.dtype for k, v in state.items())
    fast_arrays.uninstall()
    assert ArrayRecord(state)["w"].data == record["w"].data


def test_corrupt_data_fails_as_flower_does() -> None:
    array = Array(np.arange(6, dtype=np.float32))
    broken = Array(dtype=array.dtype, shape=array.shape, stype=array.stype, data=array.data[:-4])
    with pytest.raises(ValueError) as flower_error:
        broken.numpy()
    fast_arrays.install()
    with pytest.raises(ValueError) as fast_error:
        broken.numpy()
    assert str(fast_error.value) == str(flower_error.value)


def test_install_and_uninstall_are_idempotent() -> None:
    original = Array.__dict__["numpy"]
    fast_arrays.install()
    fast_arrays.install()
    assert Array.numpy is fast_arrays.array_to_numpy
    fast_arrays.uninstall()
    fast_arrays.uninstall()
    assert Array.__dict__["numpy"] is original
