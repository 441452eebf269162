"""SecAgg+ runs (Flower's legacy path): equal to the plain run within the quantization bound,
reproducible, tolerant of drop-outs up to the threshold, composed with user-level DP."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from opacus.accountants import RDPAccountant

import clients.app
from fedsim.config import Config
from fedsim.data import load_federated_data
from fedsim.privacy.secagg_records import merge_stages
from fedsim.privacy.secagg_rules import quantization_error_bound
from fedsim.tasks import build_task
from tests.helpers import run_config, small_config

SECAGG = "secagg.enabled=true"


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _initial_weights(cfg: Config) -> dict[str, torch.Tensor]:
    """The global model before round 1 (session seeds torch, then builds the model)."""
    data = load_federated_data(cfg.data, cfg.run.seed)
    torch.manual_seed(cfg.run.seed)
    return build_task(cfg, data).build_model().state_dict()


def test_bound_by_hand() -> None:
    # c = 8, Q = 1024, W = 100, weights 50 and 100: q = 512 + 1024 = 1536; 3*8*2/1536
    assert quantization_error_bound(8.0, 1024, 100.0, [50, 100]) == pytest.approx(48 / 1536)


def test_merge_stages_keeps_the_trained_entry_with_all_bytes() -> None:
    stage = {"node_id": 1, "stage": "train", "bytes_up": 10, "bytes_down": 1}
    trained = {**stage, "num_examples": 5, "loss": 0.5, "bytes_up": 100, "bytes_down": 7}
    evaluated = {"node_id": 1, "stage": "evaluate", "num_examples": 5, "bytes_up": 3,
                 "bytes_down": 4}
    merged = merge_stages([stage, dict(stage), trained, stage, evaluated])
    assert merged == [{**trained, "bytes_up": 130, "bytes_down": 10}, evaluated]


@pytest.mark.parametrize("levels", [4194304, 1024])
def test_secagg_equals_plain_within_the_bound(runs_dir: Path, levels: int) -> None:
    plain_dir, _, w_plain = run_config(small_config(runs_dir, "run.rounds=1"))
    run_dir, summary, w_secagg = run_config(small_config(
        runs_dir, "run.rounds=1", SECAGG, f"secagg.quantization_range={levels}"))
    bound = summary["secagg"]["quantization_error_bound"]
    error = _max_diff(w_plain, w_secagg)
    assert 0 < error <= bound + 1e-7  # float32 storage of the weights
    if levels == 1024:  # coarse grid: the error is of the bound's order, not far below it
        assert error > bound / 10
    row = _rows(run_dir)[1]
    assert [c["partition_id"] for c in row["clients"] if c["stage"] == "train"] == [0, 1, 2, 3]
    assert row["train"]["loss"] == _rows(plain_dir)[1]["train"]["loss"]  # same local training
    assert "## Secure aggregation (SecAgg+)" in (run_dir / "report.md").read_text()
    assert "Secure aggregation (SecAgg+)" not in (plain_dir / "report.md").read_text()
    assert summary["secagg"]["num_shares"] == 3 and summary["secagg"]["max_weight"] > 0


# fedprox with a large mu: its proximal term moves the weights by ~1e-3, far beyond the
# bound, so a proximal-mu lost between Flower's legacy config and fedsim's would show.
@pytest.mark.parametrize("strategy", [("strategy.name=fedprox", "strategy.proximal_mu=1.0"),
                                      ("strategy.name=fedavgm",), ("strategy.name=fedadam",)])
def test_legacy_strategies_equal_their_message_api_twins(runs_dir: Path, strategy) -> None:
    _, _, w_plain = run_config(small_config(runs_dir, "run.rounds=1", *strategy))
    _, summary, w_secagg = run_config(small_config(runs_dir, "run.rounds=1", *strategy, SECAGG))
    assert _max_diff(w_plain, w_secagg) <= summary["secagg"]["quantization_error_bound"] + 1e-7


def test_secagg_is_reproducible_across_backends(runs_dir: Path) -> None:
    # masks come from os.urandom, so equal weights show they cancel exactly and the seeded
    # stochastic rounding is the same in the driver and in a Ray actor
    _, inline, _ = run_config(small_config(runs_dir, SECAGG))
    _, ray, _ = run_config(small_config(runs_dir, SECAGG, "run.backend=ray"))
    assert inline["weights_sha256"] == ray["weights_sha256"]


def _drop_partitions(monkeypatch: pytest.MonkeyPatch, dropped: set[int]) -> None:
    """Clients holding `dropped` partitions raise in training (a test-only drop-out)."""
    original = clients.app.handle_train

    def flaky(msg, context, rt):  # type: ignore[no-untyped-def]
        if int(context.node_config["partition-id"]) in dropped:
            raise RuntimeError("simulated drop-out")
        return original(msg, context, rt)

    monkeypatch.setattr(clients.app, "handle_train", flaky)


def test_dropout_below_threshold_is_tolerated(runs_dir: Path, monkeypatch) -> None:
    _drop_partitions(monkeypatch, {0})
    five = ("data.num_clients=5", "run.rounds=1")
    _, plain, w_plain = run_config(small_config(runs_dir, *five))
    run_dir, summary, w_secagg = run_config(small_config(runs_dir, *five, SECAGG))
    assert summary["failures"] == plain["failures"] == 1
    assert [f["stage"] for f in _rows(run_dir)[1]["failures"]] == ["train"]
    # the four survivors' masks cancel once node 0's pairwise masks are reconstructed
    assert _max_diff(w_plain, w_secagg) <= summary["secagg"]["quantization_error_bound"] + 1e-7


def test_dropout_past_threshold_leaves_the_model(runs_dir: Path, monkeypatch) -> None:
    _drop_partitions(monkeypatch, {0, 1})  # one survivor of three < threshold 2
    run_dir, summary, _ = run_config(small_config(
        runs_dir, "data.num_clients=3", "run.rounds=1", SECAGG))
    rows = _rows(run_dir)
    assert rows[1]["dev"] == rows[0]["dev"] and summary["failures"] == 2


def test_client_side_clipping_happens_before_masking(runs_dir: Path) -> None:
    clip = 0.002
    cfg = small_config(runs_dir, "run.rounds=1", SECAGG, "privacy.mode=user",
                       "privacy.clipping_side=client", "privacy.noise_multiplier=1e-6",
                       f"privacy.max_grad_norm={clip}")
    _, _, w_dp = run_config(cfg)
    _, _, w_plain = run_config(small_config(runs_dir, "run.rounds=1"))
    w0 = _initial_weights(cfg)

    def norm(w: dict[str, torch.Tensor]) -> float:
        return math.sqrt(sum(float(((w[k].double() - w0[k].double()) ** 2).sum()) for k in w))

    size = sum(v.numel() for v in w0.values())
    assert norm(w_plain) > 10 * clip  # unclipped updates are far larger than the norm
    # the mean of updates clipped to C has norm <= C (+ quantization in every coordinate,
    # + noise of std 1e-6 C / 4)
    assert norm(w_dp) <= clip * (1 + 1e-4) + math.sqrt(size) * 3 * 8.0 / 4194304


def test_secagg_with_user_dp_reports_epsilon(runs_dir: Path) -> None:
    run_dir, summary, _ = run_config(small_config(
        runs_dir, "data.num_clients=5", "strategy.clients_per_round=4", SECAGG,
        "privacy.mode=user", "privacy.clipping_side=client", "privacy.noise_multiplier=1.0"))
    accountant = RDPAccountant()  # proven for fixed-size sampling: z / 2, no sampling gain
    for _ in range(2):
        accountant.step(noise_multiplier=0.5, sample_rate=1.0)
    expected = accountant.get_epsilon(1e-5)
    assert summary["privacy"]["mode"] == "user"
    assert summary["privacy"]["epsilon"] == pytest.approx(expected, rel=1e-9)
    per_round = [row["privacy"]["epsilon"] for row in _rows(run_dir)[1:]]
    assert per_round[0] < per_round[1] == pytest.approx(expected, rel=1e-9)
    assert summary["secagg"]["max_weight"] == 1.0  # user-level DP: every update weighs 1
