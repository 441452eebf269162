"""Which Ray actor runs which client this round: balanced by the work each client will do.

A round ends when the busiest actor is done, so the messages of a round are spread by the
longest-processing-time rule: largest expected work first, each onto the least-loaded actor
(within 4/3 of the best possible round). Among equally loaded actors the one that ran the
node last is kept, so that a node whose work and company do not change stays where its
state is. Which actor runs a client never changes its result: every client draws from its
own seeded stream and the actors are identical.

Expected work of a message, in units of one training example's step:
- train: local_steps x batch size in step mode, else local_epochs x shard size;
- evaluate: shard size / 3 (a forward pass only).
Once clients have run, `MeasuredWork` prefers what they measured: a node's mean handler
seconds for that kind of message, and for a node not yet measured its expected units at the
seconds per unit measured so far for that kind. That catches the per-message costs the
units leave out (loading weights, building the reply), which dominate small shards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from fedsim.config import Config

Work = Callable[[int, str], float]  # (partition id, message type) -> expected work


def expected_work(cfg: Config, shard_sizes: Sequence[int]) -> Work:
    """The expected work of a message to partition `pid` of type `kind`, for `cfg`."""
    client = cfg.client
    steps_mode = client.local_steps > 0

    def work(pid: int, kind: str) -> float:
        size = float(shard_sizes[pid]) if 0 <= pid < len(shard_sizes) else 1.0
        if kind != "train":
            return size / 3.0
        return float(client.local_steps * client.batch_size) if steps_mode else (
            float(client.local_epochs) * size)

    return work


def balanced_assignment(costs: Sequence[float], workers: int,
                        last: Sequence[int | None]) -> list[int]:
    """The worker of each job: longest job first onto the least-loaded worker, ties going
    to the job's `last` worker, then to the lowest index. Deterministic."""
    loads = [0.0] * workers
    chosen = [0] * len(costs)
    for job in sorted(range(len(costs)), key=lambda j: (-costs[j], j)):
        least = min(loads)
        idle = [w for w in range(workers) if loads[w] == least]
        home = last[job]
        worker = home if home in idle else idle[0]
        chosen[job] = worker
        loads[worker] += costs[job]
    return chosen


class MeasuredWork:
    """The cost of a message: the mean of the seconds measured where the node ran that kind
    before (one round's time is noisy on shared CPUs), else `work`'s units scaled by the
    seconds per unit measured for the kind (raw units before any of the kind was measured)."""

    def __init__(self, work: Work) -> None:
        self._work = work
        self._seconds: dict[tuple[int, str], list[float]] = {}  # -> [total, count]
        self._per_kind: dict[str, list[float]] = {}  # kind -> [units, seconds] measured

    def observe(self, pid: int, kind: str, seconds: float) -> None:
        """Partition `pid`'s handler took `seconds` for a message of type `kind`."""
        if not (math.isfinite(seconds) and seconds > 0):
            return
        mean = self._seconds.setdefault((pid, kind), [0.0, 0])
        mean[0] += seconds
        mean[1] += 1
        totals = self._per_kind.setdefault(kind, [0.0, 0.0])
        totals[0] += self._work(pid, kind)
        totals[1] += seconds

    def __call__(self, pid: int, kind: str) -> float:
        measured = self._seconds.get((pid, kind))
        if measured is not None:
            return measured[0] / measured[1]
        units, seconds = self._per_kind.get(kind, (0.0, 0.0))
        rate = seconds / units if units > 0 and seconds > 0 else 1.0
        return self._work(pid, kind) * rate
