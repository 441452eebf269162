"""Malicious clients: seeded choice, the update math by hand, data poisoning, end-to-end
effects that can be computed another way (free riders keep the model, sign flip negates)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.attacks.backdoor import backdoor_success, stamp
from fedsim.attacks.malicious import malicious_clients, malicious_update
from fedsim.attacks.poisoning import backdoor_shard, flip_labels, poisoned_view
from fedsim.config import AttackSection
from fedsim.data import ArrayDataset, load_federated_data
from fedsim.engine.seeding import seed_server
from fedsim.tasks import build_task
from tests.helpers import run_config, small_config

ATTACK = ("attack.malicious_fraction=0.5",)


@given(seed=st.integers(0, 2**31), n=st.integers(1, 60), fraction=st.floats(0, 1))
@settings(max_examples=60, deadline=None)
def test_malicious_choice_is_seeded_round_fraction_n(seed: int, n: int, fraction: float) -> None:
    chosen = malicious_clients(seed, fraction, n)
    assert len(chosen) == int(round(fraction * n))
    assert list(chosen) == sorted(set(chosen)) and all(0 <= i < n for i in chosen)
    assert malicious_clients(seed, fraction, n) == chosen


def test_malicious_choice_depends_on_seed() -> None:
    draws = {malicious_clients(seed, 0.3, 100) for seed in range(5)}
    assert len(draws) == 5


def _update(behaviour: str, **keys: float) -> list[np.ndarray]:
    attack = AttackSection(behaviour=behaviour, **keys)
    g = [np.array([1.0, 2.0], np.float32), np.array([5], np.int64)]
    w = [np.array([2.0, 0.0], np.float32), np.array([7], np.int64)]
    return malicious_update(attack, g, w, np.random.default_rng(0))


@pytest.mark.parametrize(("behaviour", "keys", "expected"), [
    ("sign_flip", {"strength": 1.0}, [0.0, 4.0]),          # g - (w - g)
    ("sign_flip", {"strength": 2.0}, [-1.0, 6.0]),         # g - 2 (w - g)
    ("scaling", {"scale_factor": 10.0}, [11.0, -18.0]),    # g + 10 (w - g)
    ("backdoor", {"backdoor_boost": 3.0}, [4.0, -4.0]),    # g + 3 (w - g)
    ("free_rider", {}, [1.0, 2.0]),                        # g
    ("label_flip", {}, [2.0, 0.0]),                        # w
])
def test_update_rewrites_by_hand(behaviour: str, keys: dict, expected: list[float]) -> None:
    out = _update(behaviour, **keys)
    np.testing.assert_array_equal(out[0], np.array(expected, np.float32))
    assert out[0].dtype == np.float32
    np.testing.assert_array_equal(out[1], [7])  # integer arrays are never touched


def test_gaussian_noise_has_the_configured_std() -> None:
    attack = AttackSection(behaviour="gaussian_noise", strength=0.5)
    w = [np.zeros(200_000, np.float32)]
    out = malicious_update(attack, w, w, np.random.default_rng(1))[0]
    assert abs(float(out.std()) - 0.5) < 0.005 and abs(float(out.mean())) < 0.005


def test_label_flip_and_backdoor_poisoning() -> None:
    np.testing.assert_array_equal(flip_labels(np.array([0, 3, 9]), 10), [9, 6, 0])
    cfg = small_config(Path("."), "attack.behaviour=backdoor", *ATTACK,
                       "attack.target_label=2", "attack.trigger_size=2",
                       "attack.poison_fraction=0.25")
    shard = ArrayDataset(np.zeros((40, 1, 8, 8), np.float32), np.full(40, 7, np.int64))
    poisoned = backdoor_shard(cfg, shard, 3)
    stamped = poisoned.x[:, 0, -2:, -2:].min(axis=(1, 2)) == 1.0
    assert stamped.sum() == 10 and (poisoned.y[stamped] == 2).all()
    assert (poisoned.y[~stamped] == 7).all() and poisoned.x[~stamped].max() == 0
    assert poisoned.x[stamped][:, 0, :-2, :].max() == 0  # only the corner changes


def test_colluders_train_on_the_same_pooled_data() -> None:
    cfg = small_config(Path("."), "attack.behaviour=sign_flip", *ATTACK, "attack.collusion=true")
    data = load_federated_data(cfg.data, cfg.run.seed)
    bad = malicious_clients(cfg.run.seed, 0.5, 4)
    views = [poisoned_view(cfg, pid, data) for pid in bad]
    assert views[0][1] == views[1][1]  # one shared random stream
    np.testing.assert_array_equal(views[0][0].x, views[1][0].x)
    assert len(views[0][0]) == sum(len(data.partitions[i]) for i in bad)
    honest = [p for p in range(4) if p not in bad]
    assert poisoned_view(cfg, honest[0], data) is None


class _Corner(torch.nn.Module):
    """Predicts class 3 when the bottom-right pixel is bright, else class 0."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(x), 5)
        logits[:, 3] = (x[:, 0, -1, -1] > 0.5).float()
        logits[:, 0] = 0.5
        return logits


def test_backdoor_success_counts_non_target_images_sent_to_target() -> None:
    data = ArrayDataset(np.zeros((6, 1, 4, 4), np.float32), np.array([3, 0, 1, 2, 3, 4]))
    attack = AttackSection(behaviour="backdoor", target_label=3, trigger_size=1)
    assert backdoor_success(_Corner(), data, attack) == 1.0
    dim = dataclasses.replace(attack, trigger_value=0.2)
    assert backdoor_success(_Corner(), data, dim) == 0.0
    assert stamp(data.x, attack)[:, 0, -1, -1].tolist() == [1.0] * 6


def _initial_weights(cfg) -> dict[str, torch.Tensor]:
    seed_server(cfg.run.seed)
    return build_task(cfg, load_federated_data(cfg.data, cfg.run.seed)).build_model().state_dict()


def test_all_free_riders_leave_the_model_unchanged(runs_dir: Path) -> None:
    cfg = small_config(runs_dir, "attack.behaviour=free_rider", "attack.malicious_fraction=1")
    run_dir, summary, weights = run_config(cfg)
    for name, value in _initial_weights(cfg).items():
        torch.testing.assert_close(weights[name], value, rtol=0, atol=1e-6)
    assert summary["attack"]["malicious_clients"] == [0, 1, 2, 3]
    assert json.loads((run_dir / "summary.json").read_text())["attack"]["behaviour"] == "free_rider"


def test_sign_flip_by_everyone_negates_the_first_step(runs_dir: Path) -> None:
    base = ("strategy.name=fedavg", "run.rounds=1")
    honest = run_config(small_config(runs_dir, *base))[2]
    flipped_cfg = small_config(runs_dir, *base, "attack.behaviour=sign_flip",
                               "attack.malicious_fraction=1")
    flipped = run_config(flipped_cfg)[2]
    for name, w0 in _initial_weights(flipped_cfg).items():
        torch.testing.assert_close(flipped[name] - w0, -(honest[name] - w0), rtol=0, atol=1e-6)


def test_attack_runs_are_deterministic_and_backend_independent(runs_dir: Path) -> None:
    keys = ("attack.behaviour=backdoor", *ATTACK, "attack.collusion=true",
            "attack.backdoor_boost=2")
    first = run_config(small_config(runs_dir, *keys))[1]
    again = run_config(small_config(runs_dir, *keys))[1]
    ray = run_config(small_config(runs_dir, *keys, "run.backend=ray"))[1]
    assert first["weights_sha256"] == again["weights_sha256"] == ray["weights_sha256"]
    assert 0.0 <= first["final"]["dev"]["backdoor_success"] <= 1.0
    assert first["final"] == ray["final"]
