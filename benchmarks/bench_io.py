"""What every benchmark script does last: write its numbers as JSON, print its table."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def save_and_print(out: Path, payload: dict[str, Any], table: str,
                   load_before: tuple[float, float, float]) -> None:
    """Write `payload` with the load averages before and now to `out`; print `table`."""
    load_after = os.getloadavg()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**payload, "load_before": load_before, "load_after": load_after},
                              indent=1) + "\n")  # fmt: skip
    print(table)
    print(f"load average before {load_before}, after {load_after}")


def measure_and_save(out: Path, measure: Callable[[], list[dict[str, Any]]],
                     markdown: Callable[[list[dict[str, Any]]], str]) -> None:
    """Run `measure`, write its rows as {"results": rows} with the load averages around it to
    `out`, print their `markdown` table."""
    load = os.getloadavg()
    results = measure()
    save_and_print(out, {"results": results}, markdown(results), load)
