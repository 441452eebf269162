"""Metric learning: retrieval metrics by hand, held-out classes, every loss through the engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fedsim.config import load_config
from fedsim.data import ArrayDataset, load_federated_data
from fedsim.errors import ConfigError, IncompatibleOptionsError
from fedsim.tasks import build_task
from fedsim.tasks.metric_eval import few_shot_accuracy, knn_accuracy, recall_at_k
from fedsim.validation import prepare
from tests.helpers import run_config, small_config

METRIC = (
    "task.name=metric",
    "task.loss=triplet_margin",
    "task.miner=semi_hard",
    "task.holdout_classes=2",
    "task.pk_classes=4",
    "task.pk_samples=4",
)


def test_knn_and_recall_by_hand() -> None:
    """Points on a line: 0,1,2 (class 0), 10,11 (class 1), 5 (class 1, nearer class 0)."""
    emb = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0], [5.0]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    # 1-NN: point 5 -> nearest 2 (class 0): wrong; all others right
    assert knn_accuracy(emb, labels, 1, "euclidean") == pytest.approx(5 / 6)
    recall = recall_at_k(emb, labels, (1, 3), "euclidean")
    assert recall[1] == pytest.approx(5 / 6)
    assert recall[3] == 1.0  # point 5's 3 nearest: 2, 1, 10 -> 10 is class 1


def test_few_shot_is_perfect_on_separated_clusters_and_chance_on_noise() -> None:
    rng = np.random.default_rng(0)
    labels = torch.arange(200) % 2
    separated = torch.tensor(rng.normal(size=(200, 4)), dtype=torch.float32) * 0.1
    separated[:, 0] += labels * 10
    assert few_shot_accuracy(separated, labels, 1, 20, rng, "euclidean") == 1.0
    noise = torch.tensor(rng.normal(size=(200, 4)), dtype=torch.float32)
    assert abs(few_shot_accuracy(noise, labels, 1, 200, rng, "euclidean") - 0.5) < 0.06


def _task(runs_dir: Path, *extra: str):
    cfg = prepare(small_config(runs_dir, *METRIC, *extra))
    return cfg, build_task(cfg, load_federated_data(cfg.data, cfg.run.seed))


def test_held_out_classes_never_train(runs_dir: Path) -> None:
    cfg, task = _task(runs_dir)
    assert task.heldout == (8, 9)
    model = task.build_model()
    x = np.zeros((12, 1, 8, 8), np.float32)
    only_heldout_and_one = ArrayDataset(x, np.array([8] * 6 + [9] * 5 + [0], np.int64))
    result = task.train(model, only_heldout_and_one, cfg.client, torch.Generator().manual_seed(0))
    assert result.num_examples == 0 and result.steps == 0  # one seen class: no negatives


def test_per_example_loss_is_batch_hard_per_anchor(runs_dir: Path) -> None:
    cfg, task = _task(runs_dir, "task.margin=0.5")
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.3], [3.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    got = task.per_example_loss(torch.nn.Identity(), emb, labels)
    d = torch.cdist(emb, emb)
    expected = [
        max(
            0.0,
            0.5
            + max(d[i, j] for j in range(4) if j != i and labels[j] == labels[i])
            - min(d[i, j] for j in range(4) if labels[j] != labels[i]),
        )
        for i in range(4)
    ]
    assert torch.allclose(got, torch.tensor(expected, dtype=got.dtype))


@pytest.mark.parametrize(
    "loss,miner",
    [
        ("triplet_margin", "semi_hard"),
        ("triplet_margin", "batch_hard"),
        ("pairwise_margin", "random"),
        ("npair", "none"),
        ("npair_in_batch", "none"),
    ],
)
def test_every_ranking_loss_trains_federated(runs_dir: Path, loss: str, miner: str) -> None:
    run_dir, summary, _ = run_config(
        small_config(runs_dir, *METRIC, f"task.loss={loss}", f"task.miner={miner}", "run.rounds=2")
    )
    dev = summary["final"]["dev"]
    assert {
        "knn_accuracy",
        "recall_at_1",
        "recall_at_5",
        "fewshot_1shot",
        "fewshot_5shot",
    } <= dev.keys()
    assert 0.0 <= dev["knn_accuracy"] <= 1.0
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    if loss in ("triplet_margin", "pairwise_margin"):
        shares = [rows[-1]["train"][f"triplets_{k}"] for k in ("easy", "semi_hard", "hard")]
        assert sum(shares) == pytest.approx(1.0)
        if miner == "semi_hard":
            assert rows[-1]["train"]["triplets_semi_hard"] == pytest.approx(1.0)


def test_toy_triplet_is_the_course_exercise(runs_dir: Path) -> None:
    toy = ["task.name=toy-triplet", f'run.runs_dir="{runs_dir}"', "run.rounds=3"]
    cfg = prepare(load_config(None, toy))
    assert (cfg.data.dataset, cfg.task.model, cfg.task.embedding_dim) == ("toy-1d", "linear", 5)
    assert (cfg.task.loss, cfg.task.miner) == ("triplet_margin", "random")
    with pytest.raises(IncompatibleOptionsError, match="task.loss"):
        prepare(load_config(None, [*toy, "task.loss=npair"]))
    with pytest.raises(IncompatibleOptionsError, match="task.model"):
        prepare(small_config(runs_dir, "task.name=toy-triplet"))  # SMALL sets task.model=mlp
    summary = run_config(load_config(None, toy))[1]
    assert summary["final"]["dev"]["knn_accuracy"] > 0.95  # the classes are 10 sigma apart


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("task.loss=cross_entropy", "task.loss"),
        ("task.miner=hardest", "task.miner"),
        ("task.holdout_classes=9", "task.holdout_classes"),
    ],
)
def test_metric_config_errors(runs_dir: Path, override: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        prepare(small_config(runs_dir, *METRIC, override))
    assert err.value.key == key


def test_npair_refuses_a_miner(runs_dir: Path) -> None:
    with pytest.raises(ConfigError, match="task.miner"):
        prepare(load_config(None, [*METRIC, "task.loss=npair"]))
