"""The experiments reach the accuracy the foundation promises (README numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _final_dev_accuracy(cli, runs_dir: Path, *args: str) -> float:
    code, out, err = cli("run", *args, "--runs-dir", str(runs_dir))
    assert code == 0, err
    summary = json.loads((Path(out.strip().splitlines()[-1]) / "summary.json").read_text())
    return summary["final"]["dev"]["accuracy"]


def test_quickstart_reaches_090_dev_accuracy(cli, runs_dir: Path) -> None:
    """The default experiment: digits, 10 non-IID clients (Dirichlet 0.5), FedAvg."""
    assert _final_dev_accuracy(cli, runs_dir) >= 0.90


@pytest.mark.long
def test_fashion_mnist_reaches_085_dev_accuracy(cli, runs_dir: Path) -> None:
    """10 IID clients on Fashion-MNIST (several minutes on 2 cores)."""
    config = str(REPO / "experiments" / "fashion_mnist.toml")
    assert _final_dev_accuracy(cli, runs_dir, config) >= 0.85
