"""fedsim.engine.balance: the Ray executor's per-round assignment of clients to actors."""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from fedsim.config import load_config
from fedsim.engine.balance import MeasuredWork, balanced_assignment, expected_work

COSTS = st.lists(st.floats(min_value=0.0, max_value=1e3, allow_nan=False), max_size=12)


def _makespan(costs: list[float], assignment: list[int], workers: int) -> float:
    loads = [0.0] * workers
    for cost, worker in zip(costs, assignment, strict=True):
        loads[worker] += cost
    return max(loads)


def _optimum(costs: list[float], workers: int) -> float:
    """The best possible round, by trying every assignment (small cases only)."""
    return min(_makespan(costs, list(a), workers)
               for a in itertools.product(range(workers), repeat=len(costs)))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(costs=st.lists(st.integers(0, 50).map(float), max_size=8), workers=st.integers(1, 3))
def test_longest_first_is_within_four_thirds_of_the_best_round(costs: list[float],
                                                               workers: int) -> None:
    assignment = balanced_assignment(costs, workers, [None] * len(costs))
    assert all(0 <= w < workers for w in assignment)
    best = _optimum(costs, workers)
    assert _makespan(costs, assignment, workers) <= 4 / 3 * best + 1e-9


@settings(max_examples=200, deadline=None)
@given(costs=COSTS, workers=st.integers(1, 4), data=st.data())
def test_assignment_is_deterministic_and_keeps_nodes_home(costs: list[float], workers: int,
                                                          data: st.DataObject) -> None:
    last = data.draw(st.lists(st.one_of(st.none(), st.integers(0, workers - 1)),
                              min_size=len(costs), max_size=len(costs)))  # fmt: skip
    first = balanced_assignment(costs, workers, last)
    assert first == balanced_assignment(costs, workers, last)
    # the same round again, each node now where it ran: nobody moves
    assert balanced_assignment(costs, workers, first) == first


def test_equal_work_is_split_evenly_whatever_the_partition_ids() -> None:
    """Node k on actor k mod 2 gave 7 vs 3 clients when 7 sampled ids were odd."""
    assignment = balanced_assignment([1.0] * 10, 2, [1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
    assert sorted(assignment.count(w) for w in (0, 1)) == [5, 5]


def test_expected_work_follows_the_training_mode() -> None:
    cfg = load_config(None, ["client.local_steps=0", "client.local_epochs=2"])
    epochs = expected_work(cfg, [10, 40])
    assert (epochs(0, "train"), epochs(1, "train"), epochs(1, "evaluate")) == (20.0, 80.0, 40 / 3)
    steps_cfg = dataclasses.replace(cfg, client=dataclasses.replace(cfg.client, local_steps=5,
                                                                    batch_size=8))
    steps = expected_work(steps_cfg, [10, 40])
    assert steps(0, "train") == steps(1, "train") == 40.0


def test_measured_work_prefers_measurements_and_scales_the_unmeasured() -> None:
    units = {0: 10.0, 1: 40.0}
    work = MeasuredWork(lambda pid, kind: units[pid] if kind == "train" else units[pid] / 3)
    assert (work(0, "train"), work(1, "evaluate")) == (10.0, 40 / 3)  # nothing measured: units
    work.observe(0, "train", 2.0)
    work.observe(1, "evaluate", 0.0)  # no timing: ignored
    work.observe(1, "evaluate", float("nan"))
    assert work(0, "train") == 2.0  # its own measured time
    assert work(1, "train") == 40.0 * (2.0 / 10.0)  # units at the measured seconds per unit
    assert work(1, "evaluate") == 40 / 3  # another kind: still raw units
    work.observe(0, "train", 3.0)
    assert work(0, "train") == 2.5 and work(1, "train") == 40.0 * (5.0 / 20.0)  # means


def test_measured_costs_balance_a_fixed_per_message_cost() -> None:
    """Units proportional to examples miss a fixed cost per message; measurements do not."""
    sizes = [100, 10, 10, 10, 10, 10, 10, 10, 10, 10]
    seconds = [0.01 + 0.001 * n for n in sizes]  # 10 ms per message + 1 ms per example
    work = MeasuredWork(lambda pid, kind: float(sizes[pid]))
    by_units = balanced_assignment([work(p, "train") for p in range(10)], 2, [None] * 10)
    for pid, s in enumerate(seconds):
        work.observe(pid, "train", s)
    measured = balanced_assignment([work(p, "train") for p in range(10)], 2, [None] * 10)
    assert _makespan(seconds, measured, 2) < _makespan(seconds, by_units, 2)
    assert _makespan(seconds, measured, 2) == _optimum(seconds, 2)
