"""Privacy settings refused through the real CLI: exit 2, one line naming the key, why, and
what would work; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

RECORD = ["--set", "privacy.mode=record"]
USER = ["--set", "privacy.mode=user"]
METRIC = ["--set", "task.name=metric", "--set", "task.model=mlp"]

REFUSED = [
    # record-level DP with losses / miners that couple examples -> suggest user-level DP
    ([*RECORD, *METRIC, "--set", "task.loss=triplet_margin", "--set", "task.miner=batch_hard"],
     "privacy.mode", "task.miner = 'batch_hard'"),
    ([*RECORD, *METRIC, "--set", "task.loss=triplet_margin", "--set", "task.miner=random"],
     "privacy.mode", "privacy.mode = 'user'"),
    ([*RECORD, *METRIC, "--set", "task.loss=npair_in_batch"], "privacy.mode", "npair_in_batch"),
    ([*RECORD, *METRIC, "--set", "task.loss=npair"], "privacy.mode", "P x K batch"),
    ([*RECORD, "--set", "task.name=clip"], "privacy.mode", "clip_loss"),
    ([*RECORD, "--set", "task.name=toy-triplet"], "privacy.mode", "privacy.mode = 'user'"),
    ([*RECORD, "--set", "task.name=nextword", "--set", "data.dataset=fortunes",
      "--set", "data.partitioner=natural", "--set", "task.model=lstm"], "task.model", "DPLSTM"),
    # a killed Ray worker's nodes lose their accountants
    ([*RECORD, "--set", "run.backend=ray", "--set", "faults.kill_worker_round=2"],
     "faults.kill_worker_round", "accountants would start again from zero"),
    # epsilon <= 0 / no noise
    ([*RECORD, "--set", "privacy.target_epsilon=-1"], "privacy.target_epsilon", "allowed: >= 0"),
    ([*USER, "--set", "privacy.noise_multiplier=0"], "privacy.noise_multiplier", "infinite"),
    ([*RECORD, "--set", "privacy.epsilon_budget=-2"], "privacy.epsilon_budget", ">= 0"),
    ([*RECORD, "--set", "privacy.target_epsilon=8", "--set", "privacy.epsilon_budget=4"],
     "privacy.epsilon_budget", "below target_epsilon"),
    # user-level DP: only mean aggregation; adaptive clipping's noise split; budget
    ([*USER, "--set", "strategy.name=fedmedian"], "strategy.name", "allowed: fedavg"),
    ([*USER, "--set", "strategy.name=fedadam"], "strategy.name", "plain mean"),
    ([*USER, "--set", "privacy.adaptive_clipping=true"], "privacy.clipped_count_stddev",
     "needs clipped_count_stddev > 0.5"),
    ([*USER, "--set", "privacy.noise_multiplier=0.1", "--set", "privacy.epsilon_budget=1"],
     "privacy.epsilon_budget", "not cover even one round"),
    ([*USER, "--set", "privacy.clipping_side=both"], "privacy.clipping_side", "server, client"),
]


@pytest.mark.parametrize(("args", "key", "hint"), REFUSED)
def test_refused_privacy_setting(cli, runs_dir: Path, args: list[str], key: str, hint: str) -> None:
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *args)
    assert code == 2, err
    assert key in err and hint in err, err
    assert "Traceback" not in err + out and len(err.strip().splitlines()) == 1
    assert not any(runs_dir.iterdir())
