"""User-level DP: Flower's DP wrappers, epsilon per round, stop at the budget."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fedsim.privacy.user import user_epsilon
from tests.helpers import run_config, small_config
from tests.test_privacy_accounting import rdp_by_hand

USER = ("privacy.mode=user", "privacy.noise_multiplier=0.5", "privacy.max_grad_norm=0.5")


def _rounds(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_server_and_client_side_fixed_clipping_give_the_same_model(runs_dir: Path) -> None:
    _, server, _ = run_config(small_config(runs_dir, *USER))
    _, client, _ = run_config(small_config(runs_dir, *USER, "privacy.clipping_side=client"))
    _, plain, _ = run_config(small_config(runs_dir))
    assert server["weights_sha256"] == client["weights_sha256"] != plain["weights_sha256"]
    assert "ServerSideFixed" in server["privacy"]["mechanism"]
    assert "ClientSideFixed" in client["privacy"]["mechanism"]


def test_user_level_epsilon_per_round_and_stop_at_the_budget(runs_dir: Path) -> None:
    cfg = small_config(runs_dir, *USER, "run.rounds=6", "strategy.clients_per_round=2")
    budget = (user_epsilon(cfg, 0.5, 3) + user_epsilon(cfg, 0.5, 4)) / 2
    run_dir, summary, _ = run_config(
        small_config(runs_dir, *USER, "run.rounds=6", "strategy.clients_per_round=2",
                     f"privacy.epsilon_budget={budget}"))
    privacy = summary["privacy"]
    assert privacy["rounds_trained"] == 3 and "round 4" in privacy["stopped_early"]
    assert (privacy["sample_rate"], privacy["noise_multiplier"]) == (0.5, 0.5)
    rows = _rounds(run_dir)
    assert [r["round"] for r in rows] == [0, 1, 2, 3]  # the run ended cleanly after round 3
    # What Flower runs (m of N without replacement, mean of m replies): replace-one moves the
    # mean by 2C/m, a z / 2 Gaussian every round, no sampling amplification (Opacus' RDP
    # analysis by hand with q = 1).
    for row in rows[1:]:
        expected = rdp_by_hand([[0.25, 1.0, row["round"]]], 1e-5)
        assert row["privacy"]["epsilon"] == pytest.approx(expected, rel=1e-9)
    assert privacy["epsilon"] == rows[-1]["privacy"]["epsilon"] <= budget
    report = (run_dir / "report.md").read_text()
    assert "stopped early" in report and "Poisson approximation" in report
    # the DP-FedAvg papers' number, shown beside it: Poisson sampling at q = 2/4, z = 0.5
    approximation = rdp_by_hand([[0.5, 0.5, 3]], 1e-5)
    assert privacy["epsilon_poisson_approximation"] == pytest.approx(approximation, rel=1e-9)
    assert approximation < privacy["epsilon"]


def test_adaptive_clipping_grows_the_norm_while_every_update_is_clipped(runs_dir: Path) -> None:
    # Updates are far larger than 0.01: all clipped (share 1 > target 0.5), so each round
    # C <- C exp(0.2 (1 - 0.5)) up to the count noise (std 0.06 / 4 on the share).
    # Flower 1.42 alone shrinks C here (fedsim.privacy.adaptive_fix).
    run_dir, summary, _ = run_config(small_config(
        runs_dir, *USER, "privacy.adaptive_clipping=true", "privacy.max_grad_norm=0.01",
        "privacy.noise_multiplier=0.1", "privacy.clipped_count_stddev=0.06", "run.rounds=3"))
    norms = summary["privacy"]["clipping_norms"]
    for r, norm in enumerate(norms, start=1):
        assert norm == pytest.approx(0.01 * math.exp(0.1 * r), rel=0.02)
    used = [row["privacy"]["clipping_norm"] for row in _rounds(run_dir)[1:]]
    assert used == [0.01, *norms[:-1]]  # each round clips to the norm set before it


def test_delta_at_least_one_over_the_clients_is_a_recorded_warning(runs_dir: Path) -> None:
    run_dir, summary, _ = run_config(small_config(runs_dir, *USER, "privacy.delta=0.3"))
    assert any("1/4" in w for w in summary["privacy"]["warnings"])
    assert "warning: privacy.delta" in (run_dir / "report.md").read_text()


def test_not_protected_names_the_unmasked_sum_and_the_tokenizer(runs_dir: Path) -> None:
    from fedsim.privacy.describe import not_protected

    plain = not_protected(small_config(runs_dir, *USER))
    masked = not_protected(small_config(runs_dir, *USER, "privacy.clipping_side=client",
                                        "secagg.enabled=true"))
    assert not any("unmasks their sum" in item for item in plain)
    assert any("unmasks their sum before it adds the DP noise" in item for item in masked)
    text = not_protected(small_config(runs_dir, *USER, "task.name=nextword",
                                      "data.dataset=fortunes", "task.model=gpt2"))
    assert any(item.startswith("the tokenizer") for item in text)
