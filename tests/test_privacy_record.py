"""Record-level DP: DP-SGD math against a slow reference, accounting from summary.json,
budget declines, and the same weights on every backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fedsim.config import ClientSection
from fedsim.privacy.accounting import epsilon
from fedsim.privacy.record_plan import RoundPlan
from fedsim.privacy.record_sgd import dp_sgd, poisson_batches
from tests.helpers import run_config, small_config
from tests.test_privacy_accounting import rdp_by_hand


class Rows:
    """A shard of plain float rows (ArrayDataset only takes images or token rows)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)


RECORD = ("privacy.mode=record", "privacy.noise_multiplier=1.0", "privacy.max_grad_norm=1.0")


def _linear_shard(n: int = 6) -> tuple[nn.Module, Rows]:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32) * 5
    return model, Rows(x, x.sum(1, keepdims=True).astype(np.float32))


def _mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((model(x) - y) ** 2).mean()


def test_dp_sgd_step_is_the_mean_of_clipped_per_example_gradients() -> None:
    model, shard = _linear_shard()
    start = [p.detach().clone() for p in model.parameters()]
    clipped = []  # slow reference: one backward per example, clip to norm 0.5
    for i in range(len(shard)):
        model.zero_grad()
        _mse(model, torch.tensor(shard.x[i : i + 1]), torch.tensor(shard.y[i : i + 1])).backward()
        grads = [p.grad.clone() for p in model.parameters()]
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        clipped.append([g * min(1.0, 0.5 / (float(norm) + 1e-6)) for g in grads])
    mean = [sum(g[k] for g in clipped) / len(shard) for k in range(2)]
    client = ClientSection(lr=0.1, batch_size=len(shard))
    plan = RoundPlan(sample_rate=1.0, steps=1, expected_batch=len(shard))
    dp_sgd(model, shard, client, torch.Generator().manual_seed(0), _mse, plan, (0.0, 0.5))
    for p, p0, g in zip(model.parameters(), start, mean, strict=True):
        torch.testing.assert_close(p.detach(), p0 - 0.1 * g, rtol=1e-5, atol=1e-6)
    assert not hasattr(next(model.parameters()), "grad_sample")  # hooks removed


def test_dp_sgd_noise_has_std_noise_times_clip_over_expected_batch() -> None:
    model = nn.Linear(400, 5, bias=False)
    nn.init.zeros_(model.weight)
    shard = Rows(np.zeros((8, 400), np.float32), np.zeros((8, 5), np.float32))
    plan = RoundPlan(sample_rate=1.0, steps=1, expected_batch=4)
    dp_sgd(model, shard, ClientSection(lr=1.0), torch.Generator().manual_seed(1),
           lambda m, x, y: (m(x) * 0).sum(), plan, (1.5, 2.0))  # zero gradients: noise only
    step = model.weight.detach().flatten()
    assert abs(float(step.mean())) < 0.05
    assert float(step.std()) == pytest.approx(1.5 * 2.0 / 4, rel=0.05)  # 2,000 draws


def test_poisson_batches_have_the_expected_size() -> None:
    sizes = [len(b) for b in poisson_batches(200, 0.1, 400, torch.Generator().manual_seed(0))]
    assert np.mean(sizes) == pytest.approx(20, rel=0.03)
    assert np.var(sizes) == pytest.approx(200 * 0.1 * 0.9, rel=0.2)  # binomial


def _rounds(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_record_run_reports_recomputable_epsilon_per_client(runs_dir: Path) -> None:
    run_dir, summary, _ = run_config(small_config(runs_dir, *RECORD, "run.rounds=3"))
    privacy = summary["privacy"]
    sizes = json.loads((run_dir / "partition.json").read_text())["sizes"]
    assert privacy["mode"] == "record" and privacy["delta"] == 1e-5
    assert sorted(privacy["per_client"]) == ["0", "1", "2", "3"]
    for pid, client in privacy["per_client"].items():
        assert client["steps"] == 3 * 3  # every client, every round, local_steps = 3
        assert client["sample_rate"] == 16 / sizes[int(pid)]  # batch_size / shard size
        history = client["history"]
        assert history == [[1.0, client["sample_rate"], 9]]
        assert client["epsilon"] == pytest.approx(rdp_by_hand(history, 1e-5), rel=1e-9)
        prv = epsilon([tuple(s) for s in history], 1e-5, "prv")
        assert 0.5 * client["epsilon"] <= prv <= client["epsilon"] * 1.01
    assert privacy["epsilon"] == privacy["per_client_epsilon_max"] == max(
        c["epsilon"] for c in privacy["per_client"].values())
    per_round = [r["privacy"]["epsilon"]["0"] for r in _rounds(run_dir)[1:]]
    assert per_round == sorted(per_round) and per_round[-1] == privacy["per_client"]["0"]["epsilon"]
    assert "## Privacy" in (run_dir / "report.md").read_text()


def test_a_client_past_its_budget_declines_and_the_model_stays(runs_dir: Path) -> None:
    probe = run_config(small_config(runs_dir, *RECORD, "run.rounds=1"))[1]["privacy"]
    after_one = probe["epsilon"]
    budget = after_one * 1.05  # one round fits, a second does not
    run_dir, summary, _ = run_config(
        small_config(runs_dir, *RECORD, "run.rounds=3", f"privacy.epsilon_budget={budget}"))
    privacy = summary["privacy"]
    assert summary["failures"] == 0
    assert sorted((d["round"], d["partition_id"]) for d in privacy["declines"]) == [
        (r, p) for r in (2, 3) for p in range(4)]
    assert all(c["steps"] == 3 for c in privacy["per_client"].values())
    assert privacy["epsilon"] == pytest.approx(after_one) and privacy["epsilon"] <= budget
    rows = _rounds(run_dir)
    assert rows[2]["dev"] == rows[1]["dev"] == rows[3]["dev"]  # nobody trained: same model
    assert rows[2]["privacy"]["declined"] == [0, 1, 2, 3]
    assert "Declined training 8 times" in (run_dir / "report.md").read_text()


def test_record_dp_same_weights_inline_and_ray(runs_dir: Path) -> None:
    overrides = (*RECORD, "strategy.clients_per_round=3", "data.partitioner=dirichlet")
    _, inline, _ = run_config(small_config(runs_dir, *overrides))
    _, ray, _ = run_config(small_config(runs_dir, *overrides, "run.backend=ray"))
    assert inline["weights_sha256"] == ray["weights_sha256"]
    assert inline["privacy"]["per_client"] == ray["privacy"]["per_client"]
    # 2 rounds of 3 of 4 clients: someone trained twice, so the state crossed rounds
    assert max(c["steps"] for c in inline["privacy"]["per_client"].values()) == 2 * 3


def test_ledger_recomputes_epsilon_of_a_client_that_lost_its_accountant(tmp_path: Path) -> None:
    """A replaced Ray worker restarts its nodes with empty Context.state: the client then
    reports epsilon of its new steps only. The ledger counts every step it received."""
    from types import SimpleNamespace

    from fedsim.privacy.ledger import PrivacyLedger

    cfg = small_config(tmp_path, *RECORD)
    ledger = PrivacyLedger(cfg, SimpleNamespace(partitions=[range(10)]))
    q, steps = 0.05, 20
    one_round = epsilon([(1.0, q, steps)], cfg.privacy.delta)

    def log(total: int) -> SimpleNamespace:
        entry = {"stage": "train", "partition_id": 0, "dp_epsilon": one_round,
                 "dp_noise_multiplier": 1.0, "dp_sample_rate": q, "dp_steps": steps,
                 "dp_total_steps": total}
        return SimpleNamespace(clients=[entry], declines=[])

    assert ledger.observe(1, log(steps))["privacy"]["epsilon"]["0"] == one_round
    assert not any("lost" in w for w in ledger.warnings)
    after = ledger.observe(2, log(steps))["privacy"]["epsilon"]["0"]  # state lost: 20, not 40
    assert after == pytest.approx(epsilon([(1.0, q, 2 * steps)], cfg.privacy.delta))
    assert after > one_round
    summary = ledger.summary()
    assert summary["per_client"]["0"]["steps"] == 2 * steps
    assert summary["per_client"]["0"]["epsilon"] == summary["epsilon"] == after
    assert any(w.startswith("client 0 lost its privacy accountant") for w in summary["warnings"])


def test_conv_per_example_grads_match_autograd_on_non_contiguous_inputs() -> None:
    """Opacus' conv grad samples are wrong for non-contiguous inputs unless build_model's
    pre-hook makes them contiguous; with it they equal per-example autograd."""
    from opacus import GradSampleModule
    from torch import nn

    from fedsim.privacy.models import contiguous_inputs

    class Transposed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # [B, H*W, C] -> [B, C, H, W] as a strided view: what diffusers' attention returns
            return self.conv(x.transpose(1, 2).reshape(len(x), 3, 6, 7))

    torch.manual_seed(0)
    x = torch.randn(5, 42, 3)
    reference = Transposed()
    expected = []
    for i in range(len(x)):
        reference.zero_grad()
        (reference(x[i : i + 1]) ** 2).sum().backward()
        expected.append(reference.conv.weight.grad.clone())
    model = Transposed()
    model.load_state_dict(reference.state_dict())
    model.conv.register_forward_pre_hook(contiguous_inputs)
    wrapped = GradSampleModule(model, batch_first=True, loss_reduction="sum")
    (wrapped(x) ** 2).sum().backward()
    got = model.conv.weight.grad_sample
    torch.testing.assert_close(got, torch.stack(expected), atol=1e-5, rtol=1e-4)
