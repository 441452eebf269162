"""The "never aggregate" strategies: ensemble of client models and one-shot weight average."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from fedsim.engine.ensemble_model import (
    EnsembleModel,
    global_model,
    is_stacked,
    log_mean_softmax,
    mean_output,
)
from fedsim.errors import IncompatibleOptionsError
from fedsim.validation import prepare
from tests.helpers import run_config, small_config


def test_log_mean_softmax_averages_probabilities() -> None:
    a, b = torch.log(torch.tensor([[0.2, 0.8]])), torch.log(torch.tensor([[0.6, 0.4]]))
    assert torch.allclose(log_mean_softmax([a, b]).exp(), torch.tensor([[0.4, 0.6]]))
    # logits shifted by a constant are the same distribution
    assert torch.allclose(log_mean_softmax([a + 3.0, b - 1.0]), log_mean_softmax([a, b]))


class _Classifier(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body, self.fc = nn.Linear(4, 3), nn.Linear(3, 5)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x))

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def test_ensemble_model_answers_what_tasks_call() -> None:
    members = [_Classifier(0), _Classifier(1), _Classifier(2)]
    ens = EnsembleModel(members, log_mean_softmax)
    x = torch.randn(7, 4)
    probs = torch.stack([m(x).softmax(-1) for m in members]).mean(0)
    assert torch.allclose(ens(x).exp(), probs, atol=1e-6)
    assert torch.allclose(ens.head(ens.embed(x)), ens(x), atol=1e-6)  # classify's evaluate path
    assert ens.embed(x).shape == (7, 9)
    mean = EnsembleModel(members, mean_output)
    assert torch.allclose(mean(x), sum(m(x) for m in members) / 3, atol=1e-6)
    assert mean.fc is members[0].fc  # plain attributes come from the first member


def test_stacked_state_round_trips_into_an_ensemble() -> None:
    members = [_Classifier(0), _Classifier(1)]
    state = EnsembleModel(members, mean_output).state_dict()
    assert is_stacked(state) and not is_stacked(members[0].state_dict())
    model = global_model(_Classifier(5), state, "classify")
    x = torch.randn(3, 4)
    expected = log_mean_softmax([m(x) for m in members])
    assert isinstance(model, EnsembleModel) and torch.allclose(model(x), expected, atol=1e-6)


@pytest.mark.parametrize("strategy", ["ensemble", "oneshot"])
def test_one_client_is_fedavg_so_clients_continue_from_their_own_model(
        runs_dir: Path, strategy: str) -> None:
    """With one client, FedAvg's average is the client's own model: independent training over
    3 rounds must give bit-identical weights (it would not if a client restarted from the
    initial model, or from anything but its own last model, at each round)."""
    one = ["data.num_clients=1", "run.rounds=3", "strategy.federated_eval=false"]
    plain = run_config(small_config(runs_dir, *one))[2]
    alone = run_config(small_config(runs_dir, *one, f"strategy.name={strategy}"))[2]
    prefix = "members.0." if strategy == "ensemble" else ""
    assert set(alone) == {prefix + k for k in plain}
    assert all(torch.equal(alone[prefix + k], v) for k, v in plain.items())


def test_oneshot_is_the_example_weighted_average_of_the_ensemble_members(runs_dir: Path) -> None:
    common = ["data.partitioner=dirichlet", "data.alpha=0.5", "run.rounds=2",
              "strategy.federated_eval=false", "strategy.clients_per_round=3"]
    ens_dir, ens_summary, members = run_config(
        small_config(runs_dir, *common, "strategy.name=ensemble"))
    average = run_config(small_config(runs_dir, *common, "strategy.name=oneshot"))[2]
    # FedAvg weighs each member by the num-examples of its last reply (node-id order)
    last: dict[int, int] = {}
    for line in (ens_dir / "metrics.jsonl").read_text().splitlines()[1:]:
        for client in json.loads(line)["clients"]:
            last[client["node_id"]] = client["num_examples"]
    trained = sorted({int(k.split(".")[1]) for k in members})
    assert len(trained) == len(last) == 4  # 3 of 4 per round: after 2 rounds all 4 trained
    counts = torch.tensor([last[n] for n in sorted(last)], dtype=torch.float64)
    weights = counts / counts.sum()
    for key, value in average.items():
        stacked = torch.stack([members[f"members.{i}.{key}"].double() for i in trained])
        expected = (weights[:, None] * stacked.flatten(1)).sum(0).view_as(value)
        assert torch.allclose(value.double(), expected, atol=1e-6)
    initial = json.loads((ens_dir / "metrics.jsonl").read_text().splitlines()[0])["dev"]
    assert ens_summary["final"]["dev"]["loss"] < initial["loss"]


@pytest.mark.parametrize(("key", "value"), [("secagg.enabled", "true"),
                                            ("privacy.mode", "user")])
def test_independent_training_refuses_server_side_averaging_features(
        runs_dir: Path, key: str, value: str) -> None:
    with pytest.raises(IncompatibleOptionsError, match=key):
        prepare(small_config(runs_dir, "strategy.name=ensemble", f"{key}={value}"))
