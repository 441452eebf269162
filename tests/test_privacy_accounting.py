"""Accounting: epsilon from summary.json's per-client facts, recomputed independently."""

from __future__ import annotations

import math

import numpy as np
import pytest
from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

from fedsim.config import load_config
from fedsim.privacy.accounting import epsilon, merge_segments, noise_for_budget
from fedsim.privacy.record_plan import planned_rounds, record_noise, round_plan
from fedsim.privacy.user import affordable_rounds, user_epsilon, user_level_plan
from tests.conftest import SMALL

ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))  # Opacus' default


def rdp_by_hand(history: list[list[float]], delta: float) -> float:
    """Opacus' RDP analysis functions directly, without its accountant classes."""
    rdp = sum(np.asarray(compute_rdp(q=q, noise_multiplier=z, steps=int(s), orders=ORDERS))
              for z, q, s in history)
    return float(get_privacy_spent(orders=ORDERS, rdp=rdp, delta=delta)[0])


def test_merge_joins_equal_neighbours_and_drops_empty_segments() -> None:
    history = [(1.0, 0.1, 3), (1.0, 0.1, 2), (1.0, 0.2, 0), (2.0, 0.1, 1), (1.0, 0.1, 4)]
    assert merge_segments(history) == [(1.0, 0.1, 5), (2.0, 0.1, 1), (1.0, 0.1, 4)]
    assert epsilon(history, 1e-5) == pytest.approx(epsilon(merge_segments(history), 1e-5))


@pytest.mark.parametrize(("z", "q", "steps"), [(1.0, 0.05, 100), (0.7, 0.2, 30), (2.0, 1.0, 5)])
def test_rdp_equals_opacus_analysis_and_prv_is_tighter_within_the_known_gap(
    z: float, q: float, steps: int
) -> None:
    rdp = epsilon([(z, q, steps)], 1e-5, "rdp")
    assert rdp == pytest.approx(rdp_by_hand([[z, q, steps]], 1e-5), rel=1e-9)
    prv = epsilon([(z, q, steps)], 1e-5, "prv")
    assert prv <= rdp * 1.01  # RDP's conversion to (eps, delta) is an upper bound
    assert prv >= 0.5 * rdp  # ... loose by well under a factor of 2 at these settings


def test_solved_noise_spends_the_target_and_no_more() -> None:
    noise = noise_for_budget(4.0, 1e-5, 0.1, 200)
    assert 3.9 <= epsilon([(noise, 0.1, 200)], 1e-5) <= 4.0
    assert epsilon([(noise * 0.95, 0.1, 200)], 1e-5) > 4.0  # the smallest such noise


def test_record_plan_keeps_the_expected_batch_and_solves_for_planned_participation() -> None:
    cfg = load_config(None, [*SMALL, "privacy.mode=record", "privacy.target_epsilon=3",
                             "strategy.clients_per_round=2", "run.rounds=5"])
    plan = round_plan(cfg, 160)
    assert (plan.sample_rate, plan.steps, plan.expected_batch) == (16 / 160, 3, 16)
    assert planned_rounds(cfg) == math.ceil(5 * 2 / 4)
    noise = record_noise(cfg, plan)
    assert epsilon([(noise, 0.1, 3 * 3)], 1e-5) == pytest.approx(3.0, abs=0.05)
    assert round_plan(cfg, 10).sample_rate == 1.0  # a shard smaller than a batch


def test_user_plan_stops_at_the_last_round_within_the_budget() -> None:
    cfg = load_config(None, [*SMALL, "privacy.mode=user", "privacy.noise_multiplier=0.8",
                             "privacy.epsilon_budget=20", "run.rounds=50"])
    plan = user_level_plan(cfg)
    by_scan = max(r for r in range(51) if user_epsilon(cfg, 0.8, r) <= 20)
    assert plan.rounds == by_scan == affordable_rounds(cfg, 0.8, 1.0, 20)
    assert user_epsilon(cfg, 0.8, plan.rounds + 1) > 20
