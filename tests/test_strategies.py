"""Contract test over every registered strategy: it trains, and FedAvg-family math holds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fedsim.engine.strategies import STRATEGIES
from tests.helpers import run_config, small_config


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_trains(runs_dir: Path, name: str) -> None:
    steps = "client.local_steps=1" if name == "fedsgd" else "client.local_steps=5"
    run_dir, summary, weights = run_config(
        small_config(runs_dir, f"strategy.name={name}", steps, "run.rounds=3", "client.lr=0.1")
    )
    assert summary["strategy"] == name
    assert all(bool(w.isfinite().all()) for w in weights.values())
    initial = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])["dev"]
    assert math.isfinite(summary["final"]["dev"]["loss"])
    assert summary["final"]["dev"]["loss"] < initial["loss"]


def test_fedavgm_without_momentum_and_unit_lr_is_fedavg(runs_dir: Path) -> None:
    """FedAvgM with server lr 1 and momentum 0 must reproduce FedAvg bit for bit."""
    plain = run_config(small_config(runs_dir, "strategy.name=fedavg"))[1]
    avgm = run_config(
        small_config(
            runs_dir, "strategy.name=fedavgm", "strategy.server_lr=1", "strategy.server_momentum=0"
        )
    )[1]
    assert avgm["final"]["dev"]["loss"] == pytest.approx(plain["final"]["dev"]["loss"], rel=1e-5)


def test_fedprox_with_zero_mu_is_fedavg(runs_dir: Path) -> None:
    plain = run_config(small_config(runs_dir, "strategy.name=fedavg"))[1]
    prox = run_config(small_config(runs_dir, "strategy.name=fedprox", "strategy.proximal_mu=0"))[1]
    assert prox["weights_sha256"] == plain["weights_sha256"]
    strong = run_config(small_config(runs_dir, "strategy.name=fedprox", "strategy.proximal_mu=10"))[
        1
    ]
    assert strong["weights_sha256"] != plain["weights_sha256"]
