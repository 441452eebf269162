"""Bytes of one Flower record, for the run's traffic counts.

Flower's `ConfigRecord.count_bytes` fails on an empty list (IndexError) and on an empty
string (ValueError), both of which SecAgg+ sends (no dropped neighbours, an OK status). This
counts them the same way, with empty values as 0 bytes.
"""

from __future__ import annotations

from typing import Any

from flwr.app import ConfigRecord

SCALAR_BYTES = 8  # Flower counts ints and floats in ConfigRecords as 64 bit, bools as 1


def _value_bytes(value: Any) -> int:
    if isinstance(value, list):
        return sum(_value_bytes(v) for v in value)
    if isinstance(value, str | bytes):
        return len(value)
    return 1 if isinstance(value, bool) else SCALAR_BYTES


def record_bytes(record: Any) -> int:
    """`record.count_bytes()`, also for ConfigRecords holding empty lists or strings."""
    if not isinstance(record, ConfigRecord):
        return int(record.count_bytes())
    return sum(_value_bytes(v) + len(k) for k, v in record.items())
