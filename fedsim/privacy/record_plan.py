"""Record-level DP-SGD arithmetic for one client: sampling rate, steps, planned noise.

Poisson sampling keeps the expected batch at ``client.batch_size``: each example joins each
step's batch with probability q = batch_size / shard size (1 when the shard is smaller).
An epoch is 1/q steps; ``client.local_steps`` overrides the count as for plain training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fedsim.config import Config
from fedsim.privacy.accounting import noise_for_budget


@dataclass(frozen=True)
class RoundPlan:
    """One client's DP-SGD round: rate q, steps, and the expected batch size q * n."""

    sample_rate: float
    steps: int
    expected_batch: int


def round_plan(cfg: Config, shard_size: int) -> RoundPlan:
    """The Poisson-sampled round a client with `shard_size` examples runs."""
    batch = min(cfg.client.batch_size, shard_size)
    rate = batch / shard_size
    steps = cfg.client.local_steps or cfg.client.local_epochs * math.ceil(shard_size / batch)
    return RoundPlan(rate, steps, batch)


def planned_rounds(cfg: Config) -> int:
    """Rounds a client is expected to train in: run.rounds x clients per round / clients,
    rounded up (the noise is solved for this participation; a client sampled more often
    declines once its budget is spent)."""
    per_round = cfg.strategy.clients_per_round or cfg.data.num_clients
    return max(1, math.ceil(cfg.run.rounds * per_round / cfg.data.num_clients))


def record_noise(cfg: Config, plan: RoundPlan) -> float:
    """``privacy.noise_multiplier``, or the noise that spends exactly ``target_epsilon`` over
    the planned participation at this client's sampling rate."""
    p = cfg.privacy
    if p.target_epsilon <= 0:
        return p.noise_multiplier
    steps = plan.steps * planned_rounds(cfg)
    return noise_for_budget(p.target_epsilon, p.delta, plan.sample_rate, steps, p.accountant)
