"""Server-side validation of client updates, before any of them reaches aggregation.

A reply to a training message is refused when its arrays are not the model the server sent
(other names or shapes, or dtypes of another kind: FedAdam/FedYogi send float64 models to
float32 clients, so float32 vs float64 is fine, int vs float is not), hold NaN/Inf, lie
further than `max_update_norm` from the global model (L2 over all tensors), or its example
count is not a finite positive number.
The reason is a short sentence that the run records name per client and round.

Only the ordinary shape of a training exchange is checked: one ArrayRecord sent, one
received. Other exchanges (e.g. SecAgg+ stages, whose masked vectors travel in
ConfigRecords) pass through untouched.
"""

from __future__ import annotations

import math

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, MetricRecord, RecordDict

WEIGHT_KEY = "num-examples"


def records_of(content: RecordDict, kind: type) -> list:
    """The message's records of type `kind`, in order (what `content.array_records.values()`
    gives, without building Flower's typed view of the RecordDict each time: ~20 us)."""
    return [record for record in content.values() if isinstance(record, kind)]


def single_arrays(content: RecordDict) -> ArrayRecord | None:
    """The message's one ArrayRecord, or None when it has none or several."""
    records = records_of(content, ArrayRecord)
    return records[0] if len(records) == 1 else None


def _structure_problem(sent: ArrayRecord, got: ArrayRecord) -> str | None:
    if list(got.keys()) != list(sent.keys()):
        missing = sorted(set(sent) - set(got))[:3]
        extra = sorted(set(got) - set(sent))[:3]
        return f"arrays do not match the model (missing {missing}, unexpected {extra})"
    for name, array in got.items():
        want = sent[name]
        if array.dtype == want.dtype and list(array.shape) == list(want.shape):
            continue  # the ordinary reply: nothing to parse
        if tuple(array.shape) != tuple(want.shape):
            return f"{name}: shape {tuple(array.shape)}, expected {tuple(want.shape)}"
        if np.dtype(array.dtype).kind != np.dtype(want.dtype).kind:
            return f"{name}: dtype {array.dtype}, expected {want.dtype}"
    return None


def values_view(sent: Array, got: Array) -> np.ndarray:
    """`got`'s values, flat and zero-copy when its .npy header is byte-identical to that of
    `sent` (same dtype, shape and order: every ordinary reply), else through `numpy()`.

    `numpy()` parses the header with np.load (~0.1 ms an array, most of the check's cost);
    comparing header bytes with the server's own array needs no parsing, and a reply whose
    header differs in any way (e.g. float32 for a float64 model) takes the full path.
    """
    offset = _npy_data_offset(sent.data)
    if offset and len(got.data) == len(sent.data) and got.data[:offset] == sent.data[:offset]:
        return np.frombuffer(got.data, dtype=np.dtype(sent.dtype), offset=offset)
    return got.numpy().ravel()


def _npy_data_offset(data: bytes) -> int:
    """Where the values start in .npy bytes `data` (magic, version, header length, header;
    format 1.0: 2-byte length, 2.0/3.0: 4-byte); 0 when `data` is not .npy."""
    if data[:6] != b"\x93NUMPY" or len(data) < 12:
        return 0
    if data[6] == 1:
        return 10 + int.from_bytes(data[8:10], "little")
    return 12 + int.from_bytes(data[8:12], "little")


def _values_problem(sent: ArrayRecord, got: ArrayRecord, max_update_norm: float) -> str | None:
    squared = 0.0
    for name, array in got.items():
        values = values_view(sent[name], array) if max_update_norm <= 0 else array.numpy()
        if values.dtype.kind in "fc" and not np.isfinite(values).all():
            return f"{name}: contains NaN or Inf"
        if max_update_norm > 0:
            delta = values.astype(np.float64) - sent[name].numpy().astype(np.float64)
            squared += float(np.dot(delta.ravel(), delta.ravel()))
    norm = math.sqrt(squared)
    if max_update_norm > 0 and not norm <= max_update_norm:
        return f"update norm {norm:.4g} exceeds strategy.max_update_norm = {max_update_norm:g}"
    return None


def _weight_problem(reply: RecordDict) -> str | None:
    for record in records_of(reply, MetricRecord):
        if WEIGHT_KEY in record:
            value = record[WEIGHT_KEY]
            ok = isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            return None if ok else f"{WEIGHT_KEY} = {value!r} is not a positive finite number"
    return None


def update_problem(sent: RecordDict, reply: RecordDict, max_update_norm: float) -> str | None:
    """Why the training reply `reply` to `sent` must not be aggregated, or None if it may."""
    sent_arrays = single_arrays(sent)
    masked = not any(len(r) for r in records_of(reply, ArrayRecord))  # SecAgg+ empties them
    if sent_arrays is None or (masked and records_of(reply, ConfigRecord)):
        return None
    got = single_arrays(reply)
    if got is None:
        return f"expected one ArrayRecord, got {len(records_of(reply, ArrayRecord))}"
    metrics = records_of(reply, MetricRecord)
    if len(metrics) != 1:
        return f"expected one MetricRecord, got {len(metrics)}"
    return (
        _structure_problem(sent_arrays, got)
        or _values_problem(sent_arrays, got, max_update_norm)
        or _weight_problem(reply)
    )
