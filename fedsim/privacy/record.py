"""RecordLevelDP: one client's record-level DP for one round, and its accountant's state.

The client's history of (noise, sample rate, steps) segments lives in its Flower
Context.state (one node, one Context, on every backend), so the accountant counts exactly
the steps this client ran, in all rounds it was sampled in. Before training, a round that
would take epsilon past the budget is refused (`BudgetSpent`): the client declines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from flwr.app import MetricRecord, RecordDict
from torch import nn

from fedsim.config import ClientSection, Config
from fedsim.data import ArrayDataset
from fedsim.privacy.accounting import Segment, epsilon, epsilon_budget, merge_segments
from fedsim.privacy.record_plan import record_noise, round_plan
from fedsim.tasks.base import TrainResult

STATE_KEY = "fedsim.record-dp"
BatchLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


class BudgetSpent(Exception):
    """The next round would take this client's epsilon past its budget."""


class RecordDPUnsupported(Exception):
    """The task trains in a way DP-SGD cannot wrap (e.g. it picks its own batches)."""


def load_history(state: RecordDict) -> tuple[list[Segment], float | None]:
    """The client's accounted segments and its solved noise (None before its first round)."""
    if STATE_KEY not in state:
        return [], None
    record = state[STATE_KEY]
    history = list(zip(record["noise"], record["rate"], record["steps"], strict=True))
    return [(float(z), float(q), int(s)) for z, q, s in history], float(record["planned-noise"])


def save_history(state: RecordDict, history: list[Segment], noise: float) -> None:
    """Store the client's segments and noise in its Context.state."""
    merged = merge_segments(history)
    state[STATE_KEY] = MetricRecord({
        "noise": [z for z, _, _ in merged], "rate": [q for _, q, _ in merged],
        "steps": [s for _, _, s in merged], "planned-noise": noise,
    })  # fmt: skip


class RecordLevelDP:
    """What `local_sgd` trains with while record-level DP is on (see fedsim.privacy.active)."""

    def __init__(self, cfg: Config, history: list[Segment], noise: float | None) -> None:
        self.cfg = cfg
        self.history = history
        self.noise = noise
        self.segment: Segment | None = None  # what this round ran, once it ran

    def train(
        self,
        model: nn.Module,
        shard: ArrayDataset,
        client: ClientSection,
        generator: torch.Generator,
        batch_loss: BatchLoss,
        proximal_mu: float = 0.0,
        batches: list[torch.Tensor] | None = None,
    ) -> TrainResult:
        """DP-SGD on the shard, after checking the round fits the budget."""
        from fedsim.privacy.record_sgd import dp_sgd  # opacus: imported only when DP is on

        if batches is not None:
            raise RecordDPUnsupported(
                "this task chooses its own batches; record-level DP needs Poisson sampling")
        plan = round_plan(self.cfg, len(shard))
        if self.noise is None:
            self.noise = record_noise(self.cfg, plan)
        segment = (self.noise, plan.sample_rate, plan.steps)
        self.check_budget(segment)
        result = dp_sgd(model, shard, client, generator, batch_loss, plan,
                        (self.noise, self.cfg.privacy.max_grad_norm), proximal_mu)
        self.segment = segment
        return result

    def spent(self, extra: Sequence[Segment] = ()) -> float:
        """Epsilon of the history (plus `extra`) at the configured delta and accountant."""
        p = self.cfg.privacy
        return epsilon(merge_segments([*self.history, *extra]), p.delta, p.accountant)

    def check_budget(self, segment: Segment) -> None:
        """BudgetSpent when running `segment` would pass the budget."""
        p = self.cfg.privacy
        budget = epsilon_budget(p.target_epsilon, p.epsilon_budget)
        after = self.spent([segment])
        if after > budget * (1 + 1e-6):
            raise BudgetSpent(
                f"privacy budget spent: epsilon {self.spent():.4g} of {budget:g} used, this "
                f"round would reach {after:.4g}")
