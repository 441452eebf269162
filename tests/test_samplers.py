"""fedsim.samplers: miners against brute force (hypothesis), P×K batches, offline tuples."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.errors import ConfigError
from fedsim.losses import pairwise_distances, triplet_margin
from fedsim.samplers import (
    MINERS,
    PKBatchSampler,
    batch_all_triplets,
    batch_hard_triplets,
    hard_triplets,
    make_pairs,
    make_triplets,
    miner_couples,
    random_triplets,
    semi_hard_triplets,
    triplet_fractions,
)

MARGIN = 0.5


@st.composite
def batches(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Embeddings [N, D] (sometimes on a coarse grid, for ties), labels [N], a distance.

    float64, so the brute force's python arithmetic rounds exactly as the miners' does.
    """
    labels = draw(st.lists(st.integers(0, 3), min_size=1, max_size=10))
    dim = draw(st.integers(1, 3))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    emb = torch.randn(len(labels), dim, generator=gen, dtype=torch.float64)
    if draw(st.booleans()):
        emb = torch.round(emb * 2) / 2
    return emb, torch.tensor(labels), draw(st.sampled_from(["euclidean", "cosine"]))


def brute_force(emb: torch.Tensor, labels: torch.Tensor, distance: str):
    """d and every valid (a, p, n) as python tuples."""
    d = pairwise_distances(emb, emb, distance).tolist()
    lab, n = labels.tolist(), len(labels)
    valid = [
        (a, p, q)
        for a in range(n)
        for p in range(n)
        for q in range(n)
        if a != p and lab[a] == lab[p] and lab[q] != lab[a]
    ]
    return d, valid


def mine(name: str, emb: torch.Tensor, labels: torch.Tensor, distance: str, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    out = MINERS.get(name).fn(emb, labels, MARGIN, distance, gen)
    assert out.dtype == torch.long and out.shape[1:] == (3,)
    return [tuple(t) for t in out.tolist()]


@pytest.mark.parametrize("name", MINERS.names())
@settings(max_examples=40, deadline=None)
@given(batch=batches(), seed=st.integers(0, 100))
def test_every_miner_returns_valid_triplets_deterministically(name: str, batch, seed: int) -> None:
    emb, labels, distance = batch
    _, valid = brute_force(emb, labels, distance)
    got = mine(name, emb, labels, distance, seed)
    assert set(got) <= set(valid)
    assert got == mine(name, emb, labels, distance, seed)
    if not valid:
        assert got == []


@settings(max_examples=60, deadline=None)
@given(batch=batches(), seed=st.integers(0, 100))
def test_hard_and_semi_hard_pick_one_qualifying_negative_per_pair(batch, seed: int) -> None:
    emb, labels, distance = batch
    d, valid = brute_force(emb, labels, distance)
    conditions = {
        "hard": lambda a, p, n: d[a][n] < d[a][p],
        "semi_hard": lambda a, p, n: d[a][p] < d[a][n] < d[a][p] + MARGIN,
    }
    for name, ok in conditions.items():
        got = mine(name, emb, labels, distance, seed)
        assert all(ok(*t) for t in got)
        assert [(a, p) for a, p, _ in got] == sorted({(a, p) for a, p, n in valid if ok(a, p, n)})
        if got:
            fractions = triplet_fractions(emb, labels, torch.tensor(got), MARGIN, distance)
            assert fractions[name] == 1.0


@settings(max_examples=60, deadline=None)
@given(batch=batches())
def test_batch_all_is_every_positive_loss_triplet(batch) -> None:
    emb, labels, distance = batch
    d, valid = brute_force(emb, labels, distance)
    got = mine("batch_all", emb, labels, distance)
    assert got == [(a, p, n) for a, p, n in valid if d[a][n] < d[a][p] + MARGIN]
    if got:  # the loss agrees, to the last bit, that these triplets have positive loss
        e = emb[torch.tensor(got)]
        loss = triplet_margin(e[:, 0], e[:, 1], e[:, 2], MARGIN, distance, reduction="none")
        assert bool((loss > 0).all())


@settings(max_examples=60, deadline=None)
@given(batch=batches())
def test_batch_hard_picks_farthest_positive_and_nearest_negative(batch) -> None:
    emb, labels, distance = batch
    d, valid = brute_force(emb, labels, distance)
    got = mine("batch_hard", emb, labels, distance)
    assert [a for a, _, _ in got] == sorted({a for a, _, _ in valid})
    for a, p, n in got:
        assert d[a][p] == max(d[a][q] for b, q, _ in valid if b == a)
        assert d[a][n] == min(d[a][q] for b, _, q in valid if b == a)


@settings(max_examples=40, deadline=None)
@given(batch=batches(), per_anchor=st.integers(1, 3))
def test_random_draws_per_anchor_triplets_for_each_usable_anchor(batch, per_anchor: int) -> None:
    emb, labels, _ = batch
    _, valid = brute_force(emb, labels, "euclidean")
    gen = torch.Generator().manual_seed(0)
    got = random_triplets(emb, labels, generator=gen, per_anchor=per_anchor).tolist()
    anchors = sorted({a for a, _, _ in valid})
    assert [a for a, _, _ in got] == [a for a in anchors for _ in range(per_anchor)]


def test_miners_hand_computed_1d() -> None:
    # class 0 at 0 and 1 (the only anchors); singletons at 0.3, 1.2 and 3. Anchor 0: 0.3 is
    # hard, 1.2 semi-hard, 3 easy. Anchor 1: 0.3 and 1.2 are hard, 3 easy.
    emb, labels = torch.tensor([[0.0], [1.0], [0.3], [1.2], [3.0]]), torch.tensor([0, 0, 1, 2, 3])
    gen = torch.Generator().manual_seed(0)
    assert batch_hard_triplets(emb, labels).tolist() == [[0, 1, 2], [1, 0, 3]]
    hard = hard_triplets(emb, labels, generator=gen).tolist()
    assert hard[0] == [0, 1, 2] and hard[1] in ([1, 0, 2], [1, 0, 3]) and len(hard) == 2
    assert semi_hard_triplets(emb, labels, generator=gen).tolist() == [[0, 1, 3]]
    assert batch_all_triplets(emb, labels).tolist() == [[0, 1, 2], [0, 1, 3], [1, 0, 2], [1, 0, 3]]
    fractions = triplet_fractions(emb, labels, torch.tensor([[0, 1, 2], [0, 1, 3], [0, 1, 4]]))
    assert fractions == pytest.approx({"easy": 1 / 3, "semi_hard": 1 / 3, "hard": 1 / 3})


@pytest.mark.parametrize("name", MINERS.names())
@pytest.mark.parametrize("labels", [[2, 2, 2, 2], [0, 1, 2, 3], [5]])
def test_miners_return_empty_without_a_valid_triplet(name: str, labels: list[int]) -> None:
    out = MINERS.get(name).fn(
        torch.randn(len(labels), 2),
        torch.tensor(labels),
        MARGIN,
        "euclidean",
        torch.Generator().manual_seed(0),
    )
    assert out.shape == (0, 3) and out.dtype == torch.long


def test_registry_and_coupling() -> None:
    assert MINERS.names() == ["batch_all", "batch_hard", "hard", "random", "semi_hard"]
    assert all(miner_couples(name) for name in MINERS.names())
    with pytest.raises(ConfigError, match="task.miner"):
        miner_couples("easy")
    with pytest.raises(ValueError, match="torch.Generator"):
        semi_hard_triplets(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]))


@settings(max_examples=30, deadline=None)
@given(batch=batches())
def test_triplet_fractions_sum_to_one(batch) -> None:
    emb, labels, distance = batch
    triplets = mine("random", emb, labels, distance)
    fractions = triplet_fractions(emb, labels, torch.tensor(triplets).reshape(-1, 3), 0.5, distance)
    assert sum(fractions.values()) == pytest.approx(1.0 if triplets else 0.0)


@settings(max_examples=30, deadline=None)
@given(
    labels=st.lists(st.integers(0, 5), min_size=1, max_size=40),
    p=st.integers(1, 4),
    k=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_pk_batches_hold_p_classes_of_k(labels: list[int], p: int, k: int, seed: int) -> None:
    labels_np = np.array(labels)
    if p > len(set(labels)):
        with pytest.raises(ValueError, match="classes"):
            PKBatchSampler(labels_np, p, k, np.random.default_rng(seed), 3)
        return
    batches_ = list(PKBatchSampler(labels_np, p, k, np.random.default_rng(seed), 3))
    again = list(PKBatchSampler(labels_np, p, k, np.random.default_rng(seed), 3))
    assert len(batches_) == 3 and all(
        np.array_equal(x, y) for x, y in zip(batches_, again, strict=True)
    )
    for batch in batches_:
        counts = Counter(labels_np[batch].tolist())
        assert len(counts) == p and set(counts.values()) == {k}
        for cls in counts:  # no repeat unless the class is too small
            members = batch[labels_np[batch] == cls]
            assert len(set(members.tolist())) == min(k, int((labels_np == cls).sum()))


@settings(max_examples=30, deadline=None)
@given(labels=st.lists(st.integers(0, 3), min_size=2, max_size=30), seed=st.integers(0, 1000))
def test_offline_pairs_and_triplets(labels: list[int], seed: int) -> None:
    lab = np.array(labels)
    counts = Counter(labels)
    if len(counts) < 2 or max(counts.values()) < 2:
        with pytest.raises(ValueError, match="need"):
            make_triplets(lab, 5, np.random.default_rng(seed))
        return
    i, j, same = make_pairs(lab, 21, np.random.default_rng(seed), positive_fraction=0.3)
    assert int(same.sum()) == 6 and bool((i != j).all())
    assert torch.equal(torch.from_numpy(lab[i.numpy()] == lab[j.numpy()]), same)
    t = make_triplets(lab, 17, np.random.default_rng(seed))
    a, p, n = (lab[t[:, c].numpy()] for c in range(3))
    assert t.shape == (17, 3) and bool((t[:, 0] != t[:, 1]).all())
    assert (a == p).all() and (a != n).all()
    assert torch.equal(t, make_triplets(lab, 17, np.random.default_rng(seed)))


def test_triplet_fractions_boundaries_follow_the_loss() -> None:
    # cosine distances from anchor [1, 0]: positive 1, negatives 2 (= d_ap + margin) and 1
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    on_margin, on_positive = torch.tensor([[0, 1, 2]]), torch.tensor([[0, 1, 3]])
    easy = triplet_fractions(emb, labels, on_margin, margin=1.0, distance="cosine")
    semi = triplet_fractions(emb, labels, on_positive, margin=1.0, distance="cosine")
    assert easy == {"easy": 1.0, "semi_hard": 0.0, "hard": 0.0}  # loss exactly 0
    assert semi == {"easy": 0.0, "semi_hard": 1.0, "hard": 0.0}  # loss exactly the margin
    loss = triplet_margin(emb[[0, 0]], emb[[1, 1]], emb[[2, 3]], 1.0, "cosine", "none")
    assert loss.tolist() == [0.0, 1.0]


def test_pk_accepts_a_torch_generator() -> None:
    labels = np.repeat(np.arange(5), 4)
    runs = [
        list(PKBatchSampler(labels, 3, 2, torch.Generator().manual_seed(7), 4)) for _ in range(2)
    ]
    assert all(np.array_equal(x, y) for x, y in zip(*runs, strict=True))
    assert all(len(set(labels[b].tolist())) == 3 for b in runs[0])
