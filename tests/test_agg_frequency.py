"""CI-sized aggregation-frequency sweep: fixed budget, H axis linked to rounds, both ends."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fedsim.sweep.agg_plot import position

BUDGET = 4
SPEC = f"""
[sweep]
name = "agg_tiny"
seeds = [0, 1]
metrics = ["accuracy", "loss"]
plots = ["agg_frequency"]
set = ["data.num_clients=3", "task.model=mlp", "client.batch_size=8", "client.lr=0.2",
       "client.momentum=0", "strategy.federated_eval=false"]
[[variant]]
axis = "data"
name = "skewed"
set = ["data.partitioner=dirichlet", "data.alpha=0.3"]
[[variant]]
axis = "H"
name = "H1"
set = ["strategy.name=fedsgd", "run.rounds={BUDGET}", "client.local_steps=1"]
[[variant]]
axis = "H"
name = "H{BUDGET}"
set = ["run.rounds=1", "client.local_steps={BUDGET}"]
[[variant]]
axis = "H"
name = "oneshot"
set = ["strategy.name=oneshot", "run.rounds=1", "client.local_steps={BUDGET}"]
[[variant]]
axis = "H"
name = "ensemble"
set = ["strategy.name=ensemble", "run.rounds=1", "client.local_steps={BUDGET}"]
[[variant]]
axis = "H"
name = "central"
set = ["data.num_clients=1", "data.partitioner=iid", "client.batch_size=24", "run.rounds=1",
       "client.local_steps={BUDGET}"]
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny sweep, run once for every test of this module."""
    from fedsim.cli import main

    tmp = tmp_path_factory.mktemp("agg")
    spec = tmp / "agg_tiny.toml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--sweeps-dir", str(tmp / "sweeps")]) == 0
    return tmp / "sweeps" / "agg_tiny"


def _rows(sweep_dir: Path) -> dict[tuple[str, str, str], dict]:
    rows = csv.DictReader((sweep_dir / "results.csv").open())
    return {(r["data"], r["H"], r["seed"]): r for r in rows}


def _summary(sweep_dir: Path, cell: str) -> dict:
    return json.loads(next((sweep_dir / "cells" / cell).glob("*/summary.json")).read_text())


def test_writes_plot_table_and_checklist(sweep_dir: Path) -> None:
    rows = _rows(sweep_dir)
    assert len(rows) == 5 * 2
    text = (sweep_dir / "results.md").read_text()
    assert "![agg_frequency](agg_frequency.png)" in text
    assert (sweep_dir / "agg_frequency.png").stat().st_size > 10_000
    assert (sweep_dir / "loss_curves.png").stat().st_size > 10_000
    assert "| data | H | seeds |" in text and "| skewed | ensemble | 0,1 |" in text
    assert "Seeds: 0, 1" in text and "Hyper-parameters chosen by: **not stated — FLAG**" in text
    assert "train∩dev 0, train∩test 0, dev∩test 0" in text
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert manifest["seeds"] == [0, 1] and manifest["cells"] == 10 and manifest["cells_run"] == 10
    assert [c["cells_run"] for c in manifest["invocations"]] == [10]
    assert {"torch", "flwr"} <= manifest["packages"].keys() and manifest["hardware"]["cpus"]


def test_every_cell_spends_the_same_budget(sweep_dir: Path) -> None:
    for h in ("H1", f"H{BUDGET}", "oneshot", "ensemble", "central"):
        summary = _summary(sweep_dir, f"skewed-{h}-seed0")
        lines = (sweep_dir / "cells" / f"skewed-{h}-seed0").glob("*/metrics.jsonl")
        rounds = [json.loads(x) for x in next(lines).read_text().splitlines()[1:]]
        steps = [c["steps"] for r in rounds for c in r["clients"]]
        clients = summary["num_clients"]
        assert sum(steps) == BUDGET * clients and len(rounds) == summary["rounds"]


def test_one_round_of_fedavg_is_the_one_shot_average(sweep_dir: Path) -> None:
    """H = B (one FedAvg round) and the oneshot end are the same computation: equal bits."""
    for seed in (0, 1):
        fedavg = _summary(sweep_dir, f"skewed-H{BUDGET}-seed{seed}")["weights_sha256"]
        assert _summary(sweep_dir, f"skewed-oneshot-seed{seed}")["weights_sha256"] == fedavg


def test_bytes_grow_with_the_number_of_aggregations(sweep_dir: Path) -> None:
    rows = _rows(sweep_dir)
    once = int(rows[("skewed", f"H{BUDGET}", "0")]["bytes"])
    every_step = int(rows[("skewed", "H1", "0")]["bytes"])
    assert every_step == pytest.approx(BUDGET * once, rel=0.01)
    assert int(rows[("skewed", "ensemble", "0")]["bytes"]) == pytest.approx(once, rel=0.01)


def test_positions_on_the_h_axis() -> None:
    assert position({"strategy": "fedsgd", "num_clients": 3, "local_steps": 1}) == 1
    assert position({"strategy": "fedavg", "num_clients": 3, "local_steps": 50}) == 50
    assert position({"strategy": "fedavg", "num_clients": 1, "local_steps": 50}) == "central"
    assert position({"strategy": "ensemble", "num_clients": 3, "local_steps": 50}) == "ensemble"
