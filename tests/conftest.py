"""Shared fixtures: quiet Flower/Ray, an in-process CLI runner, small fast configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fedsim.quiet import quiet_environment

quiet_environment(FEDSIM_NO_PROGRESS="1")

# A digits run that takes about a second inline.
SMALL = [
    "run.rounds=2",
    "data.num_clients=4",
    "data.partitioner=iid",
    "task.model=mlp",
    "client.local_steps=3",
    "client.batch_size=16",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Multi-minute experiments (marker `long`) run only with FEDSIM_LONG=1, never in CI."""
    if os.environ.get("FEDSIM_LONG") == "1":
        return
    skip = pytest.mark.skip(reason="long experiment: set FEDSIM_LONG=1 (make test-long)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """An empty parent folder for run directories."""
    path = tmp_path / "runs"
    path.mkdir()
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Call `fedsim` in-process: returns (exit code, stdout, stderr)."""
    from fedsim.cli import main

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call
