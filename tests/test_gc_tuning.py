"""fedsim.engine.gc_tuning: fewer collections during a federation, thresholds restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from fedsim.engine import session
from fedsim.engine.gc_tuning import GEN0_THRESHOLD, fewer_collections
from tests.helpers import run_config, small_config


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    """This process's thresholds, set to a known value and put back after the test."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_the_block_raises_only_the_youngest_threshold_and_restores_all() -> None:
    with fewer_collections():
        assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_come_back_when_the_block_raises() -> None:
    with pytest.raises(KeyError), fewer_collections():
        raise KeyError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_of_the_user_is_never_lowered() -> None:
    gc.set_threshold(GEN0_THRESHOLD * 5, 3, 4)
    with fewer_collections():
        assert gc.get_threshold() == (GEN0_THRESHOLD * 5, 3, 4)
    assert gc.get_threshold() == (GEN0_THRESHOLD * 5, 3, 4)


def test_a_run_serves_with_the_raised_threshold_then_restores_it(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []
    seed = session.seed_server
    monkeypatch.setattr(session, "seed_server",
                        lambda s: (seen.append(gc.get_threshold()), seed(s))[1])  # fmt: skip
    run_config(small_config(runs_dir, "run.rounds=1"))
    assert seen == [(GEN0_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_ray_actor_keeps_the_raised_threshold_for_its_life() -> None:
    from fedsim.engine.ray_executor import ClientWorker

    ClientWorker(threads=torch.get_num_threads())  # the actor body, built in-process
    assert gc.get_threshold() == (GEN0_THRESHOLD, 10, 10)
