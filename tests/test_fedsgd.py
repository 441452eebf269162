"""FedSGD in fedsim equals centralized SGD on the union of the clients' batches (to 1e-5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fedsim.config import Config
from fedsim.data import load_federated_data
from fedsim.engine.seeding import client_generator
from fedsim.tasks import build_task
from fedsim.tasks.local_sgd import batch_schedule
from fedsim.validation import prepare
from tests.helpers import run_config, small_config

ROUNDS = 3


def _reference(cfg: Config, union_batches: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Plain torch: same initial model, one SGD step per round on the union batch."""
    data = load_federated_data(cfg.data, cfg.run.seed)
    torch.manual_seed(cfg.run.seed)
    model = build_task(cfg, data).build_model()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.client.lr)
    for x, y in union_batches:
        opt.zero_grad()
        F.cross_entropy(model(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
    return model.state_dict()


def _union_of_client_batches(cfg: Config, server_round: int) -> tuple[np.ndarray, np.ndarray]:
    data = load_federated_data(cfg.data, cfg.run.seed)
    xs, ys = [], []
    for pid, idx in enumerate(data.partitions):
        gen = client_generator(cfg.run.seed, server_round, pid)
        batch = batch_schedule(len(idx), cfg.client, gen)[0].numpy()
        xs.append(data.train.x[idx][batch])
        ys.append(data.train.y[idx][batch])
    return np.concatenate(xs), np.concatenate(ys)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_full_batch_fedsgd_is_gradient_descent_on_the_union(runs_dir: Path, model: str) -> None:
    """Each client's batch is its whole shard: rounds = full-batch GD on all training data."""
    cfg = small_config(
        runs_dir,
        "strategy.name=fedsgd",
        "client.local_steps=1",
        "client.batch_size=100000",
        "client.lr=0.5",
        f"task.model={model}",
        f"run.rounds={ROUNDS}",
        "data.num_clients=5",
        "strategy.federated_eval=false",
    )
    _, summary, weights = run_config(cfg)
    data = load_federated_data(cfg.data, cfg.run.seed)
    assert sum(len(p) for p in data.partitions) == len(data.train)
    reference = _reference(cfg, [(data.train.x, data.train.y)] * ROUNDS)
    assert _max_diff(weights, reference) < 1e-5
    assert _max_diff(weights, _reference(cfg, [])) > 1e-2  # training really moved the weights


def test_minibatch_fedsgd_is_sgd_on_the_union_of_client_batches(runs_dir: Path) -> None:
    cfg = prepare(
        small_config(
            runs_dir,
            "strategy.name=fedsgd",
            "client.local_steps=1",
            "client.batch_size=8",
            "client.lr=0.3",
            f"run.rounds={ROUNDS}",
            "data.num_clients=5",
        )
    )
    _, _, weights = run_config(cfg)
    unions = [_union_of_client_batches(cfg, r) for r in range(1, ROUNDS + 1)]
    assert all(len(y) == 5 * 8 for _, y in unions)
    assert _max_diff(weights, _reference(cfg, unions)) < 1e-5
