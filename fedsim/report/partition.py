"""The partition histogram (examples per class per client) and what the report shows of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedsim.errors import DataError


@dataclass(frozen=True)
class Partition:
    """How the dataset was split: ``histogram[client][class]`` counts examples."""

    partitioner: str
    class_names: tuple[str, ...]
    histogram: tuple[tuple[int, ...], ...]

    def client_totals(self) -> tuple[int, ...]:
        """Examples held by each client, in client (partition id) order."""
        return tuple(sum(row) for row in self.histogram)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_partition(data: dict[str, Any], source: Path) -> Partition:
    """Validate partition.json's content; DataError naming source when it is malformed.

    Class names that are missing or do not match the histogram's width become
    ``class 0``, ``class 1``, ... so a partial file still gives a usable chart.
    """
    histogram = data.get("histogram")
    if not isinstance(histogram, list) or not all(isinstance(row, list) for row in histogram):
        raise DataError(f"{source}: 'histogram' must be a list of per-client lists of counts")
    widths = {len(row) for row in histogram}
    if len(widths) > 1:
        raise DataError(f"{source}: histogram rows differ in length {sorted(widths)}")
    if not all(_is_count(value) for row in histogram for value in row):
        raise DataError(f"{source}: histogram counts must be non-negative integers")
    width = widths.pop() if widths else 0
    names = data.get("class_names")
    if not isinstance(names, list) or len(names) != width:
        names = [f"class {index}" for index in range(width)]
    return Partition(
        partitioner=str(data.get("partitioner", "unknown")),
        class_names=tuple(str(name) for name in names),
        histogram=tuple(tuple(row) for row in histogram),
    )


def client_size_rows(partition: Partition, limit: int | None = None) -> list[list[str]]:
    """Table rows: client, examples, classes present, largest class and its share (of the
    first `limit` clients, all by default)."""
    rows = []
    for client, row in enumerate(partition.histogram[:limit]):
        total = sum(row)
        present = sum(1 for value in row if value > 0)
        if total and row:
            top = max(range(len(row)), key=lambda index: (row[index], -index))
            largest = f"`{partition.class_names[top]}` ({row[top] / total:.0%})"
        else:
            largest = "–"
        rows.append([str(client), f"{total:,}", f"{present}/{len(row)}", largest])
    return rows
