"""Epsilon from a DP-SGD / DP-FedAvg history, with Opacus' own accountants (RDP or PRV).

A history is a list of (noise_multiplier, sample_rate, steps) segments, exactly what
Opacus' accountants keep; anyone holding `summary.json["privacy"]["per_client"]` can rebuild
it and recompute epsilon with another accountant.

Opacus is imported when an accountant is first needed: importing it costs ~1.5 s (it pulls
in torch.distributed and scipy), which a run without DP should not pay at start-up.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opacus.accountants.accountant import IAccountant

Segment = tuple[float, float, int]  # (noise_multiplier, sample_rate, steps)
ACCOUNTANT_KINDS = ("rdp", "prv")


def make_accountant(kind: str, history: list[Segment] | None = None) -> IAccountant:
    """A fresh Opacus accountant of `kind` ("rdp" | "prv") holding `history`."""
    from opacus.accountants import PRVAccountant, RDPAccountant

    accountant = {"rdp": RDPAccountant, "prv": PRVAccountant}[kind]()
    accountant.history = [tuple(s) for s in history or [] if s[2] > 0]
    return accountant


def epsilon(history: list[Segment], delta: float, kind: str = "rdp") -> float:
    """Epsilon spent by `history` at `delta`; 0 for no steps, inf for zero noise."""
    steps = [s for s in history if s[2] > 0]
    if not steps:
        return 0.0
    if any(noise <= 0 for noise, _, _ in steps):
        return math.inf
    return float(make_accountant(kind, steps).get_epsilon(delta))


def noise_for_budget(
    target_epsilon: float, delta: float, sample_rate: float, steps: int, kind: str = "rdp"
) -> float:
    """The smallest noise multiplier whose `steps` at `sample_rate` stay within
    (target_epsilon, delta) under accountant `kind` (Opacus' search)."""
    from opacus.accountants.utils import get_noise_multiplier

    return float(
        get_noise_multiplier(
            target_epsilon=target_epsilon,
            target_delta=delta,
            sample_rate=sample_rate,
            steps=max(steps, 1),
            accountant=kind,
        )
    )


def merge_segments(history: list[Segment]) -> list[Segment]:
    """`history` with consecutive segments of equal (noise, rate) joined and empty ones
    dropped: the same privacy loss, written the way a reader can recompute it by hand."""
    merged: list[Segment] = []
    for noise, rate, steps in history:
        if steps <= 0:
            continue
        if merged and merged[-1][:2] == (noise, rate):
            merged[-1] = (noise, rate, merged[-1][2] + steps)
        else:
            merged.append((float(noise), float(rate), int(steps)))
    return merged


def epsilon_budget(target_epsilon: float, budget: float) -> float:
    """The epsilon that must not be passed: `budget`, else `target_epsilon`, else inf."""
    return budget or target_epsilon or math.inf
