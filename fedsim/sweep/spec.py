"""Sweep specs (TOML): what cells a sweep has, each one a list of config overrides.

```toml
[sweep]
name = "semi_hard_vs_random"
config = "quickstart.toml"        # optional base config, relative to this file
seeds = [0, 1, 2]
metrics = ["knn_accuracy"]       # the final dev metrics to tabulate (default: all)
set = ["task.name=metric"]       # overrides applied to every cell
[grid]                            # optional cross product
"task.miner" = ["random", "semi_hard"]
[[variant]]                       # optional named variants (crossed with the grid)
name = "triplet"
set = ["task.loss=triplet_margin"]
```
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedsim.config import apply_overrides, parse_config, read_toml
from fedsim.errors import ConfigError

SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its name, its overrides, and the variant/grid/seed it stands for."""

    name: str
    overrides: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]  # (column, value) for the results table


@dataclass(frozen=True)
class SweepSpec:
    name: str
    base: dict[str, Any]
    cells: tuple[Cell, ...]
    metrics: tuple[str, ...]


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, f"expected a list of strings, got {value!r}")
    return value


def _grid(raw: Any) -> list[tuple[tuple[str, str], ...]]:
    if not isinstance(raw, dict):
        raise ConfigError("grid", f"expected a table of key = [values], got {raw!r}")
    axes = []
    for key, values in raw.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{key}", "expected a non-empty list of values")
        axes.append([(key, override_value(v)) for v in values])
    return [tuple(combo) for combo in itertools.product(*axes)] if axes else [()]


def override_value(value: Any) -> str:
    """A value as it would be written after `key=` in a --set override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _variants(raw: Any) -> list[tuple[str, list[str]]]:
    if not raw:
        return [("", [])]
    if not isinstance(raw, list):
        raise ConfigError("variant", "expected [[variant]] tables with name and set")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"variant[{i}].name", "every variant needs a name")
        out.append((item["name"], _strings(item.get("set", []), f"variant[{i}].set")))
    return out


def _cells(sweep: dict[str, Any], raw: dict[str, Any]) -> tuple[Cell, ...]:
    seeds = sweep.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError("sweep.seeds", f"expected a list of seeds >= 0, got {seeds!r}")
    common = _strings(sweep.get("set", []), "sweep.set")
    cells = []
    for (variant, sets), combo, seed in itertools.product(
            _variants(raw.get("variant")), _grid(raw.get("grid", {})), seeds):
        grid_sets = [f"{k}={v}" for k, v in combo]
        parts = [variant] * bool(variant) + [f"{k}={v}" for k, v in combo]
        name = SAFE.sub("_", "-".join([*parts, f"seed{seed}"]).replace('"', ""))
        labels = (("variant", variant),) * bool(variant) + tuple(
            (k, v.strip('"')) for k, v in combo)
        cells.append(Cell(name, (*common, *sets, *grid_sets, f"run.seed={seed}"), labels))
    return tuple(cells)


def load_spec(path: Path, overrides: tuple[str, ...] = ()) -> SweepSpec:
    """Read and check a sweep spec: every cell's config must parse (nothing runs yet)."""
    raw = read_toml(path)
    unknown = set(raw) - {"sweep", "grid", "variant"}
    if unknown:
        allowed = "allowed: sweep, grid, variant"
        raise ConfigError(sorted(unknown)[0], f"unknown sweep section; {allowed}")
    sweep = raw.get("sweep", {})
    base: dict[str, Any] = {}
    if "config" in sweep:
        base = read_toml(path.parent / str(sweep["config"]))
    base = apply_overrides(base, list(overrides))
    spec = SweepSpec(str(sweep.get("name", path.stem)), base, _cells(sweep, raw),
                     tuple(_strings(sweep.get("metrics", []), "sweep.metrics")))
    for cell in spec.cells:
        parse_config(apply_overrides(base, list(cell.overrides)))
    return spec

