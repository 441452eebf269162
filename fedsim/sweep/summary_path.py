"""Sweep metrics read from anywhere in a cell's summary.json, by dotted path.

``[sweep] metrics = ["accuracy", "attacks.mia.attacks.loss.auc"]``: a name without a dot is
a final dev metric (column ``dev_accuracy``, as before); a name with a dot is a path into
summary.json and is its own column. Keys may themselves hold dots (``tpr_at_0.1%_fpr``):
each step takes the longest key of the current table that the rest of the path starts with.
"""

from __future__ import annotations

import math
from typing import Any


def metric_column(name: str) -> str:
    """The results column of a spec metric: ``dev_<name>``, or the dotted path itself."""
    return name if "." in name else f"dev_{name}"


def summary_value(summary: dict[str, Any], path: str) -> float | None:
    """The number at dotted `path` in `summary` (None when absent or not a number; a null
    value, e.g. the epsilon of a run without DP, reads as NaN)."""
    node: Any = summary
    rest = path
    while rest:
        if not isinstance(node, dict):
            return None
        keys = [k for k in node if rest == k or rest.startswith(f"{k}.")]
        if not keys:
            return None
        key = max(keys, key=len)
        node, rest = node[key], rest[len(key) + 1:]
    if node is None:
        return math.nan
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


def summary_metrics(summary: dict[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    """The dotted-path metrics among `names` that `summary` holds, by column."""
    values = {name: summary_value(summary, name) for name in names if "." in name}
    return {name: value for name, value in values.items() if value is not None}
