"""A strategy's state between rounds, captured and restored generically.

Flower's strategies keep server-optimizer state in plain attributes (FedAvgM's
`momentum_vector`, FedAdam/FedYogi's `m_t`, `v_t`, `current_arrays`), and wrappers (DP,
robust aggregation) hold the strategy they wrap plus state of their own (e.g. an adaptive
clipping norm). So every attribute of the strategy and of every strategy inside it is saved
when it is a scalar, an ndarray, an ArrayRecord, a dict/list of ndarrays, or a dict of
RecordDicts (the ensemble strategy keeps each node's last reply; stored as Flower's protobuf
bytes); callables and other objects are configuration, rebuilt from the config on resume.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, RecordDict
from flwr.common.serde import recorddict_from_proto, recorddict_to_proto
from flwr.proto.recorddict_pb2 import RecordDict as ProtoRecordDict
from flwr.serverapp.strategy import Strategy

SCALARS = (bool, int, float, str, type(None))


def _all_arrays(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, np.ndarray) for v in values)


def record_bytes(record: RecordDict) -> np.ndarray:
    """A RecordDict as Flower's protobuf bytes (uint8), e.g. a node's Context.state."""
    return np.frombuffer(recorddict_to_proto(record).SerializeToString(), dtype=np.uint8)


def record_of(stored: np.ndarray) -> RecordDict:
    """Inverse of `record_bytes`."""
    return recorddict_from_proto(ProtoRecordDict.FromString(stored.tobytes()))


def _encode(value: Any) -> tuple[dict[str, Any], list[np.ndarray]] | None:
    """(spec, arrays) for one attribute value, or None when it is not state."""
    if isinstance(value, SCALARS):
        return {"kind": "scalar", "value": value}, []
    if isinstance(value, np.ndarray):
        return {"kind": "ndarray"}, [value]
    if isinstance(value, ArrayRecord):
        return {"kind": "arrayrecord", "keys": list(value.keys())}, [
            a.numpy() for a in value.values()
        ]
    if isinstance(value, dict) and _all_arrays(list(value.values())):
        return {"kind": "dict", "keys": list(value.keys())}, list(value.values())
    if isinstance(value, list) and _all_arrays(value):
        return {"kind": "list", "size": len(value)}, list(value)
    if isinstance(value, dict) and value and all(isinstance(v, RecordDict) for v in value.values()):
        return {"kind": "records", "keys": list(value.keys())}, [
            record_bytes(v) for v in value.values()
        ]
    return None


def _decode(spec: dict[str, Any], arrays: list[np.ndarray]) -> Any:
    kind = spec["kind"]
    if kind == "scalar":
        return spec["value"]
    if kind == "ndarray":
        return arrays[0]
    if kind == "arrayrecord":
        return ArrayRecord({k: Array(a) for k, a in zip(spec["keys"], arrays, strict=True)})
    if kind == "dict":
        return dict(zip(spec["keys"], arrays, strict=True))
    if kind == "records":
        return {k: record_of(a) for k, a in zip(spec["keys"], arrays, strict=True)}
    return list(arrays)


def capture_strategy(strategy: Strategy) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(specs by attribute path, arrays by name) for `strategy` and the strategies it wraps."""
    specs: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}

    def walk(obj: Strategy, prefix: str) -> None:
        for name, value in sorted(vars(obj).items()):
            path = prefix + name
            if isinstance(value, Strategy):
                walk(value, path + ".")
                continue
            encoded = _encode(value)
            if encoded is None:
                continue
            specs[path], values = encoded
            for i, array in enumerate(values):
                arrays[f"strategy/{path}/{i}"] = np.asarray(array)

    walk(strategy, "")
    return specs, arrays


def restore_strategy(
    strategy: Strategy, specs: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Set the attributes `capture_strategy` saved back on `strategy` (and those it wraps)."""
    for path, spec in specs.items():
        *owners, name = path.split(".")
        target = strategy
        for owner in owners:
            target = getattr(target, owner)
        count = len(spec.get("keys", [])) or spec.get("size", 0) or (spec["kind"] == "ndarray")
        values = [arrays[f"strategy/{path}/{i}"] for i in range(int(count))]
        setattr(target, name, _decode(spec, values))
