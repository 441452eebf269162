"""Same config + seed => same final weights: twice on one backend, and across backends."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_config, small_config

NON_IID = ("data.partitioner=dirichlet", "data.alpha=0.5", "strategy.clients_per_round=3")


def test_same_seed_same_weights_inline(runs_dir: Path) -> None:
    cfg = small_config(runs_dir, *NON_IID)
    dir_a, first, _ = run_config(cfg)
    dir_b, second, _ = run_config(cfg)
    assert dir_a != dir_b  # never overwritten
    assert first["weights_sha256"] == second["weights_sha256"]
    other = run_config(small_config(runs_dir, *NON_IID, "run.seed=1"))[1]
    assert other["weights_sha256"] != first["weights_sha256"]


def test_inline_and_ray_give_identical_weights(runs_dir: Path) -> None:
    inline = run_config(small_config(runs_dir, *NON_IID))[1]
    ray = run_config(small_config(runs_dir, *NON_IID, "run.backend=ray"))[1]
    assert ray["backend"] == "ray"
    assert ray["weights_sha256"] == inline["weights_sha256"]
    assert ray["final"] == inline["final"]
