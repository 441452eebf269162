"""Robust aggregators and update clipping: refusals, the clipping bound, robustness to a
poisoned update that wrecks FedAvg."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from fedsim.config import PrivacySection, load_config
from fedsim.engine.robust_strategies import check_robust_strategy
from fedsim.errors import IncompatibleOptionsError
from tests.conftest import SMALL
from tests.helpers import run_config, small_config
from tests.test_malicious import _initial_weights

TEN = ("data.num_clients=10",)
FIVE = ("data.num_clients=5", "run.rounds=3", "client.local_steps=15", "client.lr=0.1")
REFUSED = [
    ([*TEN, "strategy.name=krum", "strategy.num_malicious=4"], "strategy.num_malicious",
     "n > 2f + 2"),
    ([*TEN, "strategy.name=multikrum", "strategy.num_malicious=1",
      "strategy.clients_per_round=4"], "strategy.num_malicious", "allowed f: 0 to 0"),
    ([*TEN, "strategy.name=bulyan", "strategy.num_malicious=2"], "strategy.num_malicious",
     "n >= 4f + 3"),
    ([*TEN, "strategy.name=multikrum", "strategy.num_krum_selected=11"],
     "strategy.num_krum_selected", "allowed: 0 to 10"),
    (["strategy.trim_beta=0.5"], "strategy.trim_beta", "<= 0.49"),
    (["attack.behaviour=sign_flip"], "attack.malicious_fraction", "rounds to 0"),
    (["attack.malicious_fraction=0.5"], "attack.behaviour", "needs a behaviour"),
    (["attack.behaviour=bogus"], "attack.behaviour", "sign_flip"),
    (["attack.behaviour=label_flip", "attack.malicious_fraction=0.5", "task.name=metric",
      "task.loss=triplet_margin", "task.miner=semi_hard"], "attack.behaviour", "classify"),
    (["attack.behaviour=backdoor", "attack.malicious_fraction=0.5", "attack.target_label=10"],
     "attack.target_label", "0 to 9"),
    (["attack.behaviour=backdoor", "attack.malicious_fraction=0.5", "attack.trigger_size=9"],
     "attack.trigger_size", "1 to 8"),
]


@pytest.mark.parametrize(("args", "key", "hint"), REFUSED)
def test_bad_robust_or_attack_keys_exit_2(cli, runs_dir: Path, args: list[str], key: str,
                                          hint: str) -> None:
    sets = [f"--set={a}" for a in [*SMALL, *args]]
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *sets)
    assert code == 2, err
    assert key in err and hint in err
    assert "Traceback" not in err + out and len(err.strip().splitlines()) == 1
    assert not any(runs_dir.iterdir())


def test_clipping_and_user_dp_cannot_be_combined() -> None:
    cfg = load_config(None, ["strategy.clip_norm=1.0"])
    check_robust_strategy(cfg)
    user = dataclasses.replace(cfg, privacy=PrivacySection(mode="user"))
    with pytest.raises(IncompatibleOptionsError, match="strategy.clip_norm"):
        check_robust_strategy(user)


def _step_norm(weights: dict, initial: dict) -> float:
    return float(torch.sqrt(sum(((weights[k] - initial[k]) ** 2).sum() for k in initial)))


def test_clipping_bounds_the_aggregated_step(runs_dir: Path) -> None:
    one = ("run.rounds=1", "client.lr=0.5")
    plain_cfg = small_config(runs_dir, *one)
    initial = _initial_weights(plain_cfg)
    plain = _step_norm(run_config(plain_cfg)[2], initial)
    clipped = _step_norm(run_config(small_config(runs_dir, *one, "strategy.clip_norm=0.05"))[2],
                         initial)
    loose = _step_norm(run_config(small_config(runs_dir, *one, "strategy.clip_norm=1e6"))[2],
                       initial)
    assert plain > 0.2  # the bound below is far from the honest step
    assert clipped <= 0.05 + 1e-6
    assert loose == pytest.approx(plain, rel=1e-5)


def test_robust_aggregators_shrug_off_a_noise_client(runs_dir: Path) -> None:
    noisy = ("attack.behaviour=gaussian_noise", "attack.malicious_fraction=0.2",
             "attack.strength=5", *FIVE)
    clean = run_config(small_config(runs_dir, *FIVE))[1]["final"]["dev"]["accuracy"]
    avg = run_config(small_config(runs_dir, *noisy))[1]["final"]["dev"]["accuracy"]
    assert avg < 0.5 * clean
    for robust in ("fedmedian", "krum"):
        cfg = small_config(runs_dir, *noisy, f"strategy.name={robust}", "strategy.num_malicious=1")
        assert run_config(cfg)[1]["final"]["dev"]["accuracy"] > 0.8 * clean, robust
