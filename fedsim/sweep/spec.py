"""Sweep specs (TOML): what cells a sweep has, each one a list of config overrides.

```toml
[sweep]
name = "semi_hard_vs_random"
config = "quickstart.toml"        # optional base config, relative to this file
seeds = [0, 1, 2]
metrics = ["knn_accuracy"]       # the final dev metrics to tabulate (default: all); a name
                                 # with a dot is a path into summary.json (summary_path.py)
set = ["task.name=metric"]       # overrides applied to every cell
[grid]                            # optional cross product
"task.miner" = ["random", "semi_hard"]
[[variant]]                       # optional named variants (crossed with the grid)
name = "triplet"
set = ["task.loss=triplet_margin"]
axis = "variant"                  # optional: variants of different axes are crossed
```

`[sweep] include = ["other.toml"]` appends the [[variant]] tables of other files (shared axes).

Variants link several keys (e.g. run.rounds and client.local_steps of one aggregation
period); `axis` crosses groups of them (e.g. data settings x aggregation periods), each axis a
column of the results. `[sweep] hparams` says how the hyper-parameters were chosen (the
report flags it when missing); `[sweep] plots` names sweep-level figures (fedsim.sweep.plots).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedsim.config import apply_overrides, parse_config, read_toml
from fedsim.errors import ConfigError
from fedsim.sweep.plots import SWEEP_PLOTS

SAFE = re.compile(r"[^A-Za-z0-9._=-]+")
NOT_STATED = "not stated"
DEFAULT_AXIS = "variant"


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
    seeds: tuple[int, ...] = (0,)
    hparams: str = NOT_STATED  # how the hyper-parameters were chosen
    plots: tuple[str, ...] = ()  # sweep-level figures, by name (fedsim.sweep.plots)


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


Variant = tuple[str, str, list[str]]  # (axis, name, overrides)


def _variants(raw: Any) -> list[tuple[Variant, ...]]:
    """Every combination of one variant per axis (axes in order of first appearance)."""
    if not raw:
        return [()]
    if not isinstance(raw, list):
        raise ConfigError("variant", "expected [[variant]] tables with name and set")
    axes: dict[str, list[Variant]] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f"variant[{i}].name", "every variant needs a name")
        axis = item.get("axis", DEFAULT_AXIS)
        if not isinstance(axis, str) or not axis:
            raise ConfigError(f"variant[{i}].axis", f"expected a column name, got {axis!r}")
        sets = _strings(item.get("set", []), f"variant[{i}].set")
        axes.setdefault(axis, []).append((axis, item["name"], sets))
    return [tuple(combo) for combo in itertools.product(*axes.values())]


def _cells(sweep: dict[str, Any], raw: dict[str, Any]) -> tuple[Cell, ...]:
    seeds = sweep.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError("sweep.seeds", f"expected a list of seeds >= 0, got {seeds!r}")
    common = _strings(sweep.get("set", []), "sweep.set")
    cells = []
    for variants, combo, seed in itertools.product(
            _variants(raw.get("variant")), _grid(raw.get("grid", {})), seeds):
        sets = [s for _, _, overrides in variants for s in overrides]
        grid_sets = [f"{k}={v}" for k, v in combo]
        parts = [label for _, label, _ in variants] + [f"{k}={v}" for k, v in combo]
        name = SAFE.sub("_", "-".join([*parts, f"seed{seed}"]).replace('"', ""))
        labels = tuple((axis, label) for axis, label, _ in variants) + tuple(
            (k, v.strip('"')) for k, v in combo)
        cells.append(Cell(name, (*common, *sets, *grid_sets, f"run.seed={seed}"), labels))
    return tuple(cells)


def _included_variants(path: Path, sweep: dict[str, Any]) -> list[Any]:
    """[[variant]] tables of the files in ``[sweep] include`` (relative to `path`), in order:
    several specs can share one axis (e.g. the aggregation periods of a fixed budget)."""
    out: list[Any] = []
    for name in _strings(sweep.get("include", []), "sweep.include"):
        included = read_toml(path.parent / name)
        if set(included) - {"variant"}:
            raise ConfigError("sweep.include", f"{name} may hold [[variant]] tables only")
        out += included.get("variant", [])
    return out


def load_spec(path: Path, overrides: tuple[str, ...] = ()) -> SweepSpec:
    """Read and check a sweep spec: every cell's config must parse (nothing runs yet)."""
    raw = read_toml(path)
    unknown = set(raw) - {"sweep", "grid", "variant"}
    if unknown:
        allowed = "allowed: sweep, grid, variant"
        raise ConfigError(sorted(unknown)[0], f"unknown sweep section; {allowed}")
    sweep = raw.get("sweep", {})
    raw = {**raw, "variant": [*raw.get("variant", []), *_included_variants(path, sweep)]}
    base: dict[str, Any] = {}
    if "config" in sweep:
        base = read_toml(path.parent / str(sweep["config"]))
    base = apply_overrides(base, list(overrides))
    hparams = sweep.get("hparams", NOT_STATED)
    if not isinstance(hparams, str):
        raise ConfigError("sweep.hparams", "expected a sentence: how the hyper-parameters "
                          "were chosen (e.g. 'grid search on dev, seed 0')")
    spec = SweepSpec(str(sweep.get("name", path.stem)), base, _cells(sweep, raw),
                     tuple(_strings(sweep.get("metrics", []), "sweep.metrics")),
                     tuple(sweep.get("seeds", [0])), hparams.strip() or NOT_STATED,
                     tuple(_strings(sweep.get("plots", []), "sweep.plots")))
    for name in spec.plots:
        SWEEP_PLOTS.get(name)
    for cell in spec.cells:
        parse_config(apply_overrides(base, list(cell.overrides)))
    return spec

