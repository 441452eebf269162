"""Record-level DP trains every task that can take it: next-word (GPT-2) and diffusion."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fedsim.engine.run import run
from tests.test_diffusion_task import TINY_DIFFUSION, _cache  # noqa: F401  (autouse fixture)
from tests.test_nextword import tiny_config, tiny_text_registered  # noqa: F401  (fixture)
from tests.test_privacy_accounting import rdp_by_hand

DP = ("privacy.mode=record", "privacy.noise_multiplier=1.0")


def _check_per_client(summary: dict, clients: int, steps: int) -> None:
    per_client = summary["privacy"]["per_client"]
    assert len(per_client) == clients
    for client in per_client.values():
        assert client["steps"] == steps
        assert math.isclose(client["epsilon"], rdp_by_hand(client["history"], 1e-5),
                            rel_tol=1e-9)


def test_gpt2_next_word_trains_under_record_level_dp(runs_dir: Path) -> None:
    _, summary = run(tiny_config(*DP, runs_dir=runs_dir))  # 3 clients, 2 rounds x 2 steps
    assert math.isfinite(summary["final"]["dev"]["perplexity"])
    _check_per_client(summary, 3, 4)
    assert summary["privacy"]["unit"].startswith("example (one training sequence")


@pytest.mark.long  # ~10 s alone; the UNet's per-example gradients are the slowest here
def test_diffusion_trains_under_record_level_dp(runs_dir: Path) -> None:
    from fedsim.config import load_config

    cfg = load_config(None, [*TINY_DIFFUSION, *DP, "data.num_clients=2", "run.rounds=1",
                             "client.local_steps=2", "client.batch_size=8",
                             f'run.runs_dir="{runs_dir}"'])
    _, summary = run(cfg)
    assert math.isfinite(summary["final"]["dev"]["loss"])
    _check_per_client(summary, 2, 2)
