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
"""

from __future__ import annotations

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
