"""A pool of Ray actors, alive for the whole run, each hosting a fixed set of nodes.

Node k always goes to actor k mod pool size, so its Context (client state) and the
actor's cached data and model persist across rounds. One Ray call per actor per round
carries all of that actor's messages.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flwr.app import Message

from fedsim.config import RunSection
from fedsim.engine.executors import NODE_ID_OFFSET, NodeRunner, error_reply

QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "RAY_DEDUP_LOGS": "0",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
}


class ClientWorker:
    """Ray actor body: a NodeRunner over fedsim's ClientApp, with a fixed torch thread count."""

    def __init__(self, run_config: dict, num_partitions: int, threads: int) -> None:
        import torch

        from clients.app import app

        torch.set_num_threads(threads)
        self._runner = NodeRunner(app, run_config, num_partitions)

    def run(self, messages: list[Message]) -> list[Message]:
        return self._runner.run(messages)


def start_ray(num_cpus: int) -> Any:
    """Start a private local Ray instance (never join a stray cluster)."""
    os.environ.update(QUIET_ENV)
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count(),
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=True,
        )
    return ray


class RayExecutor:
    """Runs messages on `ceil`-free pool: as many actors as CPUs allow, at most one per node."""

    def __init__(self, run_config: dict, num_partitions: int, run: RunSection) -> None:
        self._ray = start_ray(run.num_cpus)
        cpus = int(self._ray.available_resources().get("CPU", 1))
        size = max(1, min(num_partitions, cpus // run.client_cpus))
        worker = self._ray.remote(num_cpus=run.client_cpus, num_gpus=run.client_gpus)(ClientWorker)
        self._actors = [
            worker.remote(run_config, num_partitions, run.client_cpus) for _ in range(size)
        ]

    def start(self, messages: list[Message]) -> object:
        groups: dict[int, list[int]] = {}
        for position, message in enumerate(messages):
            actor = (message.metadata.dst_node_id - NODE_ID_OFFSET) % len(self._actors)
            groups.setdefault(actor, []).append(position)
        calls = [
            (positions, self._actors[a].run.remote([messages[p] for p in positions]))
            for a, positions in groups.items()
        ]
        return messages, calls

    def collect(self, handle: object) -> list[Message]:
        messages, calls = handle  # type: ignore[misc]
        replies: list[Message | None] = [None] * len(messages)
        for positions, ref in calls:
            try:
                batch = self._ray.get(ref)
            except Exception as err:  # an actor died: every message it held fails, visibly
                batch = [error_reply(messages[p], err) for p in positions]
            for position, reply in zip(positions, batch, strict=True):
                replies[position] = reply
        return replies  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the actors and this process's Ray instance."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._ray.shutdown()
