"""Sweeps: cells = variants x grid x seeds, tables with mean ± std, resume after a kill."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from fedsim.errors import ConfigError
from fedsim.sweep.spec import load_spec
from fedsim.sweep.table import flags, summarize

SPEC = """
[sweep]
name = "tiny"
seeds = [0, 1]
set = ["run.rounds=1", "data.num_clients=3", "task.model=mlp", "client.local_steps=2",
       "strategy.federated_eval=false"]
metrics = ["accuracy"]
[grid]
"client.lr" = [0.05, 0.2]
[[variant]]
name = "iid"
set = ["data.partitioner=iid"]
[[variant]]
name = "skewed"
set = ["data.partitioner=dirichlet", "data.alpha=0.3"]
"""


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC)
    return path


def test_cells_are_the_cross_product(spec_path: Path) -> None:
    spec = load_spec(spec_path)
    assert len(spec.cells) == 2 * 2 * 2
    assert len({c.name for c in spec.cells}) == 8
    first = spec.cells[0]
    assert first.name == "iid-client.lr=0.05-seed0"
    assert "data.partitioner=iid" in first.overrides and "run.seed=0" in first.overrides
    assert dict(first.labels) == {"variant": "iid", "client.lr": "0.05"}


def test_bad_cell_config_is_refused_before_running(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[sweep]\nset = ["client.lr=-1"]\n')
    with pytest.raises(ConfigError, match="client.lr"):
        load_spec(path)
    path.write_text('[swep]\nname = "x"\n')
    with pytest.raises(ConfigError, match="unknown sweep section"):
        load_spec(path)


def test_sweep_runs_tabulates_and_resumes(cli, spec_path: Path, tmp_path: Path) -> None:
    sweeps = tmp_path / "sweeps"
    code, out, err = cli("sweep", str(spec_path), "--sweeps-dir", str(sweeps))
    assert code == 0, err
    sweep_dir = Path(out.strip().splitlines()[-1])
    rows = list(csv.DictReader((sweep_dir / "results.csv").open()))
    assert len(rows) == 8 and {r["seed"] for r in rows} == {"0", "1"}
    table = (sweep_dir / "results.md").read_text()
    grouped, figures = table.split("Figures of seed 0:")
    assert grouped.count("\n| ") == 4 and "±" in grouped  # 4 groups (variant x lr), 2 seeds
    assert figures.count("embedding.png") == 4  # one figure per group, side by side
    assert all((sweep_dir / link).is_file()
               for link in re.findall(r"\]\((cells/[^)]+\.png)\)", figures))
    # a killed sweep: one cell lost its summary -> only that cell runs again
    victim = sweep_dir / "cells" / "skewed-client.lr=0.2-seed1"
    next(victim.glob("*/summary.json")).unlink()
    code, _, err = cli("sweep", str(spec_path), "--sweeps-dir", str(sweeps))
    assert code == 0
    assert err.count(": ran") == 1 and err.count("done before") == 7
    assert len(list(victim.iterdir())) == 2  # the broken run dir is kept, a new one added


def test_summarize_and_flags() -> None:
    rows = [{"v": "a", "seed": s, "acc": x} for s, x in [(0, 0.5), (1, 0.7)]]
    rows += [{"v": "b", "seed": s, "acc": 0.995} for s in (0, 1)]
    summary = {e["v"]: e for e in summarize(rows, ["v"], ["acc"])}
    assert summary["a"]["acc"][0] == pytest.approx(0.6)
    assert summary["a"]["acc"][1] == pytest.approx(0.1414213, rel=1e-5)
    assert any("identical across seeds" in f for f in summary["b"]["flags"])
    assert any("leakage" in f for f in summary["b"]["flags"])
    assert flags("acc", [0.1, 0.9]) == ["acc varies a lot across seeds"]
