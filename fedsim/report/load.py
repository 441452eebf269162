"""Read a run directory into one immutable record that the report is built from.

summary.json and metrics.jsonl are required: without them there is nothing to report, so
their absence or corruption raises DataError naming the file. The other files are optional:
a missing one omits its section, an unreadable one omits it and leaves a warning.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fedsim.errors import DataError
from fedsim.report.partition import Partition, parse_partition

T = TypeVar("T")


@dataclass(frozen=True)
class RunRecord:
    """Everything the report reads from one run directory."""

    run_dir: Path
    summary: dict[str, Any]
    rounds: tuple[dict[str, Any], ...]
    partition: Partition | None
    manifest: dict[str, Any] | None
    config_text: str | None
    config: dict[str, Any] | None
    warnings: tuple[str, ...]


def read_text(path: Path) -> str:
    """The file's text, or DataError naming it when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise DataError(f"{path}: file is missing") from err
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read it ({err})") from err


def read_json_object(path: Path) -> dict[str, Any]:
    """A file holding one JSON object; DataError naming the file otherwise."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_metrics(path: Path) -> tuple[dict[str, Any], ...]:
    """The per-round records of metrics.jsonl, sorted by round (blank lines skipped)."""
    records = []
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {line_no} is not valid JSON ({err.msg})") from err
        round_no = record.get("round") if isinstance(record, dict) else None
        if not isinstance(round_no, int) or isinstance(round_no, bool):
            raise DataError(f"{path}: line {line_no} is not a round record (no integer 'round')")
        records.append(record)
    if not records:
        raise DataError(f"{path}: no rounds recorded")
    return tuple(sorted(records, key=lambda record: record["round"]))


def _optional(path: Path, reader: Callable[[Path], T], warnings: list[str]) -> T | None:
    """reader(path) if the file exists; None (plus a warning if it is unreadable) otherwise."""
    if not path.exists():
        return None
    try:
        return reader(path)
    except DataError as err:
        warnings.append(f"{path.name} was not used: {err}")
        return None


def _read_partition(path: Path) -> Partition:
    return parse_partition(read_json_object(path), path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as err:
        raise DataError(f"{path}: not valid TOML ({err})") from err


def load_run(run_dir: Path) -> RunRecord:
    """Read run_dir; DataError when it is not a directory or a required file is bad."""
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: not a run directory (it does not exist or is a file)")
    summary = read_json_object(run_dir / "summary.json")
    rounds = read_metrics(run_dir / "metrics.jsonl")
    warnings: list[str] = []
    partition = _optional(run_dir / "partition.json", _read_partition, warnings)
    manifest = _optional(run_dir / "manifest.json", read_json_object, warnings)
    config_text = _optional(run_dir / "config.toml", read_text, [])
    config = _optional(run_dir / "config.toml", _read_toml, warnings)
    return RunRecord(
        run_dir, summary, rounds, partition, manifest, config_text, config, tuple(warnings)
    )
