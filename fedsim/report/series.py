"""Per-round series and per-client statistics pulled out of metrics.jsonl records.

Metric dicts are treated generically: whatever numeric keys a section ("dev", "train",
"federated_eval") holds are reported, in order of first appearance.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fedsim.report.fmt import is_number

Rounds = Sequence[dict[str, Any]]

# Per-client fields that identify or size a client rather than measure it.
_CLIENT_FIELDS = {"node_id", "partition_id", "stage", "num_examples", "bytes_up", "bytes_down"}


def metric_keys(rounds: Rounds, section: str) -> tuple[str, ...]:
    """Numeric keys of ``record[section]`` across all rounds, in first-seen order."""
    keys: dict[str, None] = {}
    for record in rounds:
        values = record.get(section)
        if isinstance(values, dict):
            keys.update((key, None) for key, value in values.items() if is_number(value))
    return tuple(keys)


def series(rounds: Rounds, section: str, key: str) -> tuple[list[int], list[float]]:
    """(round numbers, values) of ``record[section][key]`` where it is recorded."""
    xs, ys = [], []
    for record in rounds:
        values = record.get(section)
        if isinstance(values, dict) and is_number(values.get(key)):
            xs.append(record["round"])
            ys.append(float(values[key]))
    return xs, ys


@dataclass(frozen=True)
class Spread:
    """Min / median / max of one per-client metric in one round."""

    stage: str
    metric: str
    clients: int
    low: float
    median: float
    high: float


def last_client_round(rounds: Rounds) -> dict[str, Any] | None:
    """The latest round that has per-client entries (the final round may have none)."""
    for record in reversed(rounds):
        if isinstance(record.get("clients"), list) and record["clients"]:
            return record
    return None


def client_spread(record: dict[str, Any]) -> list[Spread]:
    """Spread across clients of every per-client metric in one round, by stage then metric."""
    values: dict[tuple[str, str], list[float]] = {}
    for client in record.get("clients") or []:
        if not isinstance(client, dict):
            continue
        stage = str(client.get("stage", "?"))
        for key, value in client.items():
            if key not in _CLIENT_FIELDS and is_number(value):
                values.setdefault((stage, key), []).append(float(value))
    return [
        Spread(stage, key, len(vs), min(vs), statistics.median(vs), max(vs))
        for (stage, key), vs in values.items()
    ]


def failures_by_round(rounds: Rounds) -> list[tuple[int, int, dict[str, int], list[str]]]:
    """(round, failures, failures per stage, distinct reasons) for rounds with failures."""
    result = []
    for record in rounds:
        failures = [f for f in record.get("failures") or [] if isinstance(f, dict)]
        if not failures:
            continue
        stages: dict[str, int] = {}
        for failure in failures:
            stage = str(failure.get("stage", "?"))
            stages[stage] = stages.get(stage, 0) + 1
        reasons = sorted({str(failure.get("reason", "?")) for failure in failures})
        result.append((record["round"], len(failures), stages, reasons))
    return result
