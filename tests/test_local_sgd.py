"""Local training building blocks: batch schedules (properties), streams, FedProx term."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from fedsim.config import ClientSection
from fedsim.engine.seeding import client_generator, stream_seed
from fedsim.tasks.local_sgd import batch_schedule, proximal_term


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    batch=st.integers(1, 64),
    epochs=st.integers(1, 4),
    seed=st.integers(0, 99),
)
def test_epoch_mode_visits_every_example_once_per_epoch(
    n: int, batch: int, epochs: int, seed: int
) -> None:
    client = ClientSection(local_epochs=epochs, batch_size=batch)
    batches = batch_schedule(n, client, torch.Generator().manual_seed(seed))
    counts = torch.bincount(torch.cat(batches), minlength=n)
    assert bool((counts == epochs).all())
    assert all(len(b) <= batch for b in batches)
    assert len(batches) == epochs * -(-n // min(batch, n))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    batch=st.integers(1, 64),
    steps=st.integers(1, 50),
    seed=st.integers(0, 99),
)
def test_step_mode_gives_exactly_the_requested_steps(
    n: int, batch: int, steps: int, seed: int
) -> None:
    client = ClientSection(local_steps=steps, batch_size=batch)
    batches = batch_schedule(n, client, torch.Generator().manual_seed(seed))
    assert len(batches) == steps
    assert all(0 < len(b) <= min(batch, n) for b in batches)
    assert all(int(b.max()) < n for b in batches)


def test_streams_are_reproducible_and_distinct() -> None:
    assert stream_seed(0, 1, 2) == stream_seed(0, 1, 2)
    seeds = {stream_seed(s, r, p) for s in range(3) for r in range(5) for p in range(20)}
    assert len(seeds) == 3 * 5 * 20
    a = torch.randperm(50, generator=client_generator(0, 1, 2))
    b = torch.randperm(50, generator=client_generator(0, 1, 2))
    assert torch.equal(a, b)


def test_proximal_term_is_half_squared_distance() -> None:
    model = nn.Linear(2, 1)
    anchor = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        model.weight += torch.tensor([[3.0, 4.0]])
    assert float(proximal_term(model, anchor).detach()) == 12.5  # 0.5 * (9 + 16)
