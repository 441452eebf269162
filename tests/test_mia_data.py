"""Member / non-member sets and LiRA shadow splits: disjoint, balanced, seeded, complementary."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fedsim.attacks.membership import NOT_IN_TRAIN, federation_members, membership_sets
from fedsim.config import load_config
from fedsim.data import load_federated_data
from fedsim.data.subset import population
from fedsim.errors import ConfigError

BASE = ['task.model="mlp"', 'data.partitioner="iid"', "data.num_clients=4"]


def data_for(*overrides: str, seed: int = 0):  # type: ignore[no-untyped-def]
    cfg = load_config(None, [*BASE, *overrides])
    return cfg, load_federated_data(cfg.data, seed)


def test_train_examples_restricts_the_pool_to_a_fixed_subset() -> None:
    _, data = data_for("data.train_examples=100")
    _, other_seed = data_for("data.train_examples=100", seed=5)
    pool, held = population(len(data.train), 100)
    assert sorted(np.concatenate(data.partitions)) == sorted(pool)
    assert sorted(np.concatenate(other_seed.partitions)) == sorted(pool)  # not the run seed
    assert len(held) == 100 and not set(held) & set(pool)


def test_shadow_splits_pair_up_into_complements() -> None:
    k, shadows = 60, 6
    cfg, _ = data_for(f"data.train_examples={k}")
    pool, held = population(1257, k)
    everyone = np.r_[pool, held]
    counts = np.zeros(len(everyone), int)
    for split in range(1, shadows + 1):
        shard = dataclasses.replace(cfg.data, shadow_split=split)
        trained = np.concatenate(load_federated_data(shard, split).partitions)
        assert len(trained) == k and set(trained) <= set(everyone)
        counts += np.isin(everyone, trained)
    assert (counts == shadows // 2).all()  # each example IN exactly half of the shadows


def test_too_many_train_examples_names_the_key() -> None:
    with pytest.raises(ConfigError, match="data.train_examples"):
        data_for("data.train_examples=1000", "data.shadow_split=1")


@pytest.mark.parametrize("overrides", [(), ("data.train_examples=100",)])
def test_member_and_non_member_sets_are_disjoint_balanced_and_seeded(overrides) -> None:  # type: ignore[no-untyped-def]
    cfg, data = data_for(*overrides)
    members = federation_members(data)
    sets = [membership_sets(data, members, cfg.data.train_examples, 80,
                            np.random.default_rng(3)) for _ in range(2)]
    one = sets[0]
    assert one.is_member.sum() == (~one.is_member).sum() == 80
    np.testing.assert_array_equal(one.train_index, sets[1].train_index)  # seeded
    inside = one.train_index[one.is_member]
    outside = one.train_index[~one.is_member]
    assert set(inside) <= set(members)
    if cfg.data.train_examples:  # non-members: held-out training examples
        assert not set(outside) & set(members) and (outside != NOT_IN_TRAIN).all()
    else:  # iid gives every training example to a client: non-members come from test
        assert (outside == NOT_IN_TRAIN).all() and one.non_member_source == "test split"
    np.testing.assert_array_equal(one.data.y[one.is_member], data.train.y[inside])


TASK_CONFIGS = {
    "classify": (),
    "metric": ("task.name=metric", "task.loss=triplet_margin", "task.miner=semi_hard",
               "task.holdout_classes=2", "task.pk_classes=4", "task.pk_samples=4"),
    "diffusion": ("task.name=diffusion", "task.model=unet", "task.width=8",
                  "task.diffusion_steps=20", "task.sample_steps=4", "task.num_samples=16",
                  "task.eval_examples=16", "task.sample_every=0"),
}


@pytest.mark.parametrize("task_name", [
    "classify", "metric",
    pytest.param("diffusion", marks=pytest.mark.long),  # ~200 s on the busy 2-core machine
])
def test_scores_are_per_example_whatever_the_batch(task_name: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An example's score must not depend on which other examples it is scored with."""
    import torch

    from fedsim.attacks import scores
    from fedsim.tasks import build_task
    from fedsim.validation import prepare

    cfg = prepare(load_config(None, [*BASE, *TASK_CONFIGS[task_name]]))
    data = load_federated_data(cfg.data, 0)
    task = build_task(cfg, data)
    torch.manual_seed(0)
    model = task.build_model()
    sample = data.train.subset(np.arange(24))
    whole = scores.loss_scores(task, model, sample, data.dev)
    stat = scores.lira_statistics(task, model, sample, data.dev)
    monkeypatch.setattr(scores, "SCORE_BATCH", 5)
    reversed_small = scores.loss_scores(task, model, sample.subset(np.arange(24)[::-1]), data.dev)
    assert whole.shape == stat.shape == (24,) and np.isfinite(whole).all()
    np.testing.assert_allclose(reversed_small[::-1], whole, rtol=1e-4, atol=1e-6)


def test_logit_confidence_is_log_odds_of_the_true_class() -> None:
    import torch

    from fedsim.attacks.scores import logit_confidence

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 8.0]])
    y = torch.tensor([0, 2])
    p = torch.softmax(logits.double(), 1)[torch.arange(2), y]
    expected = torch.log(p / (1 - p))
    torch.testing.assert_close(logit_confidence(logits.double(), y), expected)
