"""Formatting of numbers and markdown tables for report.md.

Every function here is pure, so the same run directory always gives the same report text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MISSING = "–"


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool (JSON metric values)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(value: Any) -> str:
    """A metric value: 4 decimals in the usual range, scientific notation outside it."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not is_number(value):
        return cell(str(value))
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.3e}"


def count(value: Any) -> str:
    """An integer count with thousands separators ('–' when absent or not a number)."""
    if not is_number(value):
        return MISSING
    return f"{int(value):,}"


def byte_size(value: Any) -> str:
    """A byte count, exact and in binary units: ``123,456 B (120.6 KiB)``."""
    if not is_number(value):
        return MISSING
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            break
        size /= 1024
    exact = f"{int(value):,} B"
    return exact if unit == "B" else f"{exact} ({size:.1f} {unit})"


def seconds(value: Any) -> str:
    """A duration in seconds with two decimals."""
    return f"{value:.2f} s" if is_number(value) else MISSING


def cell(text: str) -> str:
    """Make text safe inside a markdown table cell (no pipes, no line breaks)."""
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured markdown table; cells must already be formatted strings."""
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return lines
