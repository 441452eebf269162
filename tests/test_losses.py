"""fedsim.losses: exact references, reductions, and one contract over every registered loss."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.errors import ConfigError
from fedsim.losses import (
    LOSSES,
    REDUCTIONS,
    LossSpec,
    clip_loss,
    info_nce,
    is_decomposable,
    npair,
    npair_in_batch,
    paired_distances,
    pairwise_distances,
    pairwise_margin,
    triplet_margin,
)

DIMS = {"N": 6, "M": 3, "D": 4}
COUPLED = {"info_nce", "clip_loss", "npair_in_batch"}


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def build_inputs(spec: LossSpec, seed: int) -> list[torch.Tensor]:
    """Tensors for `spec.inputs` ("name[N,D], same[N]:bool", ...), float64."""
    out = []
    for k, (_, dims, is_bool) in enumerate(re.findall(r"(\w+)\[([\w,]*)\](:bool)?", spec.inputs)):
        shape = [DIMS[d] for d in dims.split(",") if d]
        if is_bool:
            out.append(torch.arange(DIMS["N"]) % 2 == 0)
        else:
            out.append(randn(*shape, seed=seed * 10 + k, dtype=torch.float64))
    return out


def test_distances_by_hand() -> None:
    x, y = torch.tensor([[0.0, 0.0], [1.0, 0.0]]), torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    assert pairwise_distances(x, y, "euclidean")[0].tolist() == pytest.approx([5, 2], abs=1e-5)
    assert pairwise_distances(x, y, "cosine")[1].tolist() == pytest.approx([0.4, 1.0], abs=1e-6)
    assert torch.equal(paired_distances(x, y, "cosine"), pairwise_distances(x, y, "cosine").diag())
    with pytest.raises(ValueError, match="euclidean, cosine"):
        paired_distances(x, y, "manhattan")


def test_pairwise_margin_by_hand() -> None:
    a, b = torch.tensor([[0.0, 0.0]] * 3), torch.tensor([[3.0, 4.0]] * 3)
    same = torch.tensor([True, False, False])
    loss = pairwise_margin(a, b, same, margin=6.0, reduction="none")
    assert loss.tolist() == pytest.approx([5.0, 1.0, 1.0], abs=1e-5)
    assert pairwise_margin(a, b, same, margin=2.0, reduction="sum").item() == pytest.approx(5, 1e-5)
    squared = pairwise_margin(a, b, same, margin=6.0, reduction="none", squared=True)
    assert squared.tolist() == pytest.approx([25.0, 1.0, 1.0], abs=1e-4)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6), margin=st.floats(0.01, 3.0), reduction=st.sampled_from(REDUCTIONS)
)
def test_triplet_margin_equals_torch(seed: int, margin: float, reduction: str) -> None:
    a, p, n = randn(7, 5, seed=seed), randn(7, 5, seed=seed + 1), randn(7, 5, seed=seed + 2)
    ours = triplet_margin(a, p, n, margin=margin, reduction=reduction)
    ref = F.triplet_margin_loss(a, p, n, margin=margin, p=2, eps=1e-6, reduction=reduction)
    assert torch.equal(ours, ref)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6), margin=st.floats(0.0, 2.0), reduction=st.sampled_from(REDUCTIONS)
)
def test_cosine_pairwise_margin_is_cosine_embedding_loss(
    seed: int, margin: float, reduction: str
) -> None:
    a, b = randn(8, 3, seed=seed), randn(8, 3, seed=seed + 1)
    same = torch.arange(8) % 3 == 0
    ours = pairwise_margin(a, b, same, margin=margin, distance="cosine", reduction=reduction)
    ref = torch.nn.CosineEmbeddingLoss(margin=1 - margin, reduction=reduction)(
        a, b, same.float() * 2 - 1
    )
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_npair_with_other_positives_is_softmax_cross_entropy(temperature: float) -> None:
    a, p = randn(5, 4, seed=1, dtype=torch.float64), randn(5, 4, seed=2, dtype=torch.float64)
    negatives = torch.stack([p[[j for j in range(5) if j != i]] for i in range(5)])
    ref = F.cross_entropy(a @ p.T / temperature, torch.arange(5), reduction="none")
    torch.testing.assert_close(npair(a, p, negatives, temperature, reduction="none"), ref)
    torch.testing.assert_close(npair_in_batch(a, p, temperature, reduction="none"), ref)


def test_npair_is_the_course_formula() -> None:
    a, p, negs = randn(3, 2, seed=1), randn(3, 2, seed=2), randn(3, 4, 2, seed=3)
    ap = [sum(x * y for x, y in zip(a[i].tolist(), p[i].tolist(), strict=True)) for i in range(3)]
    ref = [
        math.log(
            1 + sum(math.exp((a[i] @ negs[i, k]).item() / 0.5 - ap[i] / 0.5) for k in range(4))
        )
        for i in range(3)
    ]
    assert npair(a, p, negs, temperature=0.5, reduction="none").tolist() == pytest.approx(ref, 1e-5)


def slow_cross_entropy_rows(sim: list[list[float]]) -> list[float]:
    """-log softmax(row i)[i] for a python list of rows."""
    return [math.log(sum(math.exp(s) for s in row)) - row[i] for i, row in enumerate(sim)]


def slow_cosine(x: torch.Tensor, y: torch.Tensor) -> list[list[float]]:
    def unit(v: list[float]) -> list[float]:
        norm = math.sqrt(sum(c * c for c in v))
        return [c / norm for c in v]

    xs, ys = [unit(v) for v in x.tolist()], [unit(v) for v in y.tolist()]
    return [[sum(a * b for a, b in zip(u, v, strict=True)) for v in ys] for u in xs]


def test_info_nce_equals_slow_loop() -> None:
    q, k = randn(6, 3, seed=4, dtype=torch.float64), randn(6, 3, seed=5, dtype=torch.float64)
    sim = [[s / 0.2 for s in row] for row in slow_cosine(q, k)]
    got = info_nce(q, k, temperature=0.2, reduction="none")
    assert got.tolist() == pytest.approx(slow_cross_entropy_rows(sim), rel=1e-9)


def test_clip_loss_equals_slow_loop() -> None:
    img, txt = randn(5, 4, seed=6, dtype=torch.float64), randn(5, 4, seed=7, dtype=torch.float64)
    scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64)
    sim = [[s / 0.07 for s in row] for row in slow_cosine(img, txt)]
    sim_t = [list(col) for col in zip(*sim, strict=True)]
    ref = [
        (x + y) / 2
        for x, y in zip(slow_cross_entropy_rows(sim), slow_cross_entropy_rows(sim_t), strict=True)
    ]
    assert clip_loss(img, txt, scale, reduction="none").tolist() == pytest.approx(ref, rel=1e-6)
    assert clip_loss(img, txt, scale).item() == pytest.approx(sum(ref) / 5, rel=1e-6)


def test_registry() -> None:
    assert LOSSES.names() == sorted(
        ["pairwise_margin", "triplet_margin", "npair", "npair_in_batch", "info_nce", "clip_loss",
         "ddpm_mse"]
    )
    assert {n for n in LOSSES.names() if not is_decomposable(n)} == COUPLED
    with pytest.raises(ConfigError, match="task.loss.*allowed: clip_loss"):
        is_decomposable("hinge")
    with pytest.raises(ValueError, match="already registered"):
        LOSSES.register("npair")(LOSSES.get("npair"))


@pytest.mark.parametrize("name", LOSSES.names())
def test_contract_shapes_reductions_and_errors(name: str) -> None:
    spec = LOSSES.get(name)
    inputs = build_inputs(spec, seed=0)
    none = spec.fn(*inputs, reduction="none")
    assert none.shape == (DIMS["N"],) and bool((none >= 0).all())
    torch.testing.assert_close(spec.fn(*inputs, reduction="mean"), none.mean())
    torch.testing.assert_close(spec.fn(*inputs, reduction="sum"), none.sum())
    assert spec.fn(*inputs).shape == ()  # default is "mean"
    with pytest.raises(ValueError, match="none, mean, sum"):
        spec.fn(*inputs, reduction="max")


@pytest.mark.parametrize("identical", [False, True])
@pytest.mark.parametrize("name", LOSSES.names())
def test_contract_gradients_are_finite(name: str, identical: bool) -> None:
    inputs = build_inputs(LOSSES.get(name), seed=1)
    if identical:  # every [N, D] input equal: distance 0, where a bare sqrt has no gradient
        inputs = [x.clone() if x.shape != inputs[0].shape else inputs[0].clone() for x in inputs]
    floats = [x.requires_grad_() for x in inputs if x.is_floating_point()]
    LOSSES.get(name).fn(*inputs).backward()
    assert all(x.grad is not None and bool(x.grad.isfinite().all()) for x in floats)


@pytest.mark.parametrize("name", LOSSES.names())
def test_contract_decomposable_flag_matches_behaviour(name: str) -> None:
    """Perturbing example j moves another example's loss iff the loss is not decomposable."""
    spec = LOSSES.get(name)
    n = DIMS["N"]
    coupled = False
    for seed in range(3):
        inputs = build_inputs(spec, seed)
        base = spec.fn(*inputs, reduction="none")
        assert bool((base > 0).any())  # the check below is not vacuous
        for j in range(n):
            moved = [
                x + (torch.arange(n) == j).reshape(-1, *[1] * (x.dim() - 1)) * randn(*x.shape[1:])
                if x.is_floating_point() and x.dim() > 0 and x.shape[0] == n
                else x
                for x in inputs
            ]
            delta = (spec.fn(*moved, reduction="none") - base).abs()
            coupled |= bool((delta[torch.arange(n) != j] > 1e-9).any())
    assert coupled == (not spec.decomposable)
