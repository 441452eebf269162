"""Server-side update validation: each broken update is named, a good one passes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, MetricRecord, RecordDict
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.engine.faults import corrupt_arrays
from fedsim.engine.update_check import update_problem


def _content(arrays: dict[str, np.ndarray], examples: float = 10) -> RecordDict:
    record = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})
    return RecordDict({"arrays": record, "metrics": MetricRecord({"num-examples": examples})})


SENT = {"w": np.zeros((2, 2), np.float32), "b": np.zeros(2, np.float32)}


def _sent() -> RecordDict:
    return RecordDict({"arrays": _content(SENT)["arrays"], "config": ConfigRecord({"x": 1})})


def test_a_good_update_passes() -> None:
    good = {"w": np.ones((2, 2), np.float32), "b": np.ones(2, np.float32)}
    assert update_problem(_sent(), _content(good), max_update_norm=0.0) is None


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("nan", "NaN or Inf"), ("inf", "NaN or Inf"), ("shape", "shape (3,), expected (2, 2)"),
     ("dtype", "dtype int64, expected float32")],
)
def test_each_corruption_is_named(kind: str, expected: str) -> None:
    broken = corrupt_arrays(_content(SENT)["arrays"], kind)
    reply = RecordDict({"arrays": broken, "metrics": MetricRecord({"num-examples": 3})})
    problem = update_problem(_sent(), reply, max_update_norm=0.0)
    assert problem is not None and expected in problem


def test_norm_bound_is_the_l2_distance_over_all_tensors() -> None:
    # update - global = [[3, 0], [0, 0]] and [4, 0]: norm exactly 5
    got = {"w": np.array([[3, 0], [0, 0]], np.float32), "b": np.array([4, 0], np.float32)}
    assert update_problem(_sent(), _content(got), max_update_norm=5.0) is None
    problem = update_problem(_sent(), _content(got), max_update_norm=4.99)
    assert problem == "update norm 5 exceeds strategy.max_update_norm = 4.99"


def test_huge_update_caught_by_the_norm_bound_only() -> None:
    ones = {"w": np.ones((2, 2), np.float32), "b": np.ones(2, np.float32)}
    huge = RecordDict({"arrays": corrupt_arrays(_content(ones)["arrays"], "huge"),
                       "metrics": MetricRecord({"num-examples": 3})})
    assert update_problem(_sent(), huge, max_update_norm=0.0) is None
    assert "exceeds" in update_problem(_sent(), huge, max_update_norm=1e3)
    assert math.isclose(np.abs(huge["arrays"]["w"].numpy()).max(), 1e6)


def test_float_width_may_differ() -> None:
    """FedAdam's global model is float64; float32 clients reply float32: not an attack."""
    wide = {k: v.astype(np.float64) for k, v in SENT.items()}
    sent = RecordDict({"arrays": _content(wide)["arrays"]})
    assert update_problem(sent, _content(SENT), 0.0) is None


def test_missing_and_extra_arrays() -> None:
    problem = update_problem(_sent(), _content({"w": SENT["w"], "c": SENT["b"]}), 0.0)
    assert problem is not None and "missing ['b']" in problem and "unexpected ['c']" in problem


@pytest.mark.parametrize("examples", [0, -1, float("inf"), float("nan")])
def test_absurd_example_counts(examples: float) -> None:
    problem = update_problem(_sent(), _content(SENT, examples), 0.0)
    assert problem is not None and "num-examples" in problem


def test_exchanges_without_arrays_pass_through() -> None:
    """SecAgg+ stages carry ConfigRecords only: nothing to validate."""
    stage = RecordDict({"config": ConfigRecord({"stage": "setup"})})
    assert update_problem(stage, _content(SENT), 0.0) is None
    masked = RecordDict({"masked": ConfigRecord({"v": [1, 2]})})
    assert update_problem(_sent(), masked, 0.0) is None


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple),
    sent_dtype=st.sampled_from(["float32", "float64", "int64"]),
    got_dtype=st.sampled_from(["float32", "float64", "int64", "float16"]),
    fortran=st.booleans(),
)
def test_values_view_equals_numpy(shape, sent_dtype, got_dtype, fortran) -> None:
    """The zero-copy view holds exactly the reply's values, whatever header it has."""
    from fedsim.engine.update_check import values_view

    rng = np.random.default_rng(len(shape))
    sent = Array(np.zeros(shape, dtype=sent_dtype))
    values = np.asarray(rng.standard_normal(shape) * 100).astype(got_dtype)
    got = Array(np.asfortranarray(values) if fortran else values)
    view = values_view(sent, got)
    np.testing.assert_array_equal(np.sort(view.ravel()), np.sort(got.numpy().ravel()))
    assert view.dtype == got.numpy().dtype
