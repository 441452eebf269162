"""A pool of Ray actors, each hosting a fixed set of nodes, alive for the whole run or sweep.

Node k always goes to actor k mod pool size, so its Context (client state) and the
actor's cached data and model persist across rounds. One Ray call per actor per round
carries all of that actor's messages.

The pool outlives a run: the next run in the same process with the same
(client_cpus, client_gpus, pool size) reuses the live actors (a sweep pays Ray's and the
actors' start-up once). Each run begins with `ClientWorker.reset`: fresh node Contexts (no
client state leaks between runs) and the driver's already-partitioned data, put in Ray's
object store once and read zero-copy, so actors never load or partition data. Ray stops
at process exit or on `shutdown_pool()`.
"""

from __future__ import annotations

import atexit
import copy
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from flwr.app import Message

from fedsim.config import DataSection, RunSection
from fedsim.data.types import FederatedData
from fedsim.engine.executors import NODE_ID_OFFSET, NodeRunner, error_reply
from fedsim.quiet import quiet_environment

DataKey = tuple[DataSection, int]  # (data section, seed): what a FederatedData is cut from
_MAX_SHIPPED = 2  # data sets kept in the object store for a pool (as clients.app primes)


class ClientWorker:
    """Ray actor body: a NodeRunner over fedsim's ClientApp, with a fixed torch thread count.

    Built once per pool; `reset` starts each run.
    """

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        from clients.app import app

        self._app = app
        self._runner: NodeRunner | None = None
        self._reset_error = "no run started on this actor (reset() was not called)"

    def reset(
        self, run_config: dict, num_partitions: int, key: DataKey | None, data: Any
    ) -> int:
        """Start a run: new node Contexts; prime the ClientApp with the run's data if given.

        Returns the actor's pid. A failure is kept and raised by every `run` of this run, so
        that each of its messages gets an Error reply naming it.
        """
        self._runner = None
        try:
            if key is not None and data is not None:
                from clients.app import prime

                prime(key[0], key[1], data)
            self._runner = NodeRunner(self._app, run_config, num_partitions)
        except Exception as err:
            self._reset_error = f"starting the run on this actor failed: {err!r}"
            raise
        return os.getpid()

    def loaded(self, modules: list[str]) -> list[str]:
        """Which of `modules` this actor has imported (start-up cost checks)."""
        import sys

        return [name for name in modules if name in sys.modules]

    def run(self, messages: list[Message]) -> list[Message]:
        if self._runner is None:
            raise RuntimeError(self._reset_error)
        return self._runner.run(_unshared(messages))


_STARTED_CPUS: int | None = None  # num_cpus of the Ray instance this module started


def _unshared(messages: list[Message]) -> list[Message]:
    """The messages with no content object in common (deep copies where needed).

    A strategy sends one content object to every node of a round; pickling one actor's batch
    keeps that sharing, and mods (SecAgg+) mutate content in place, so each node needs its
    own, as the inline executor's deep copies give it.
    """
    seen: set[int] = set()
    private = []
    for message in messages:
        if id(message.content) in seen:
            message = copy.deepcopy(message)
        seen.add(id(message.content))
        private.append(message)
    return private


def start_ray(num_cpus: int) -> Any:
    """Start a private local Ray instance (never join a stray cluster), or reuse ours."""
    global _STARTED_CPUS, _POOL
    quiet_environment()
    import ray

    cpus = num_cpus or os.cpu_count() or 1
    if ray.is_initialized() and _STARTED_CPUS is not None and _STARTED_CPUS != cpus:
        shutdown_pool()  # ours, started with another run.num_cpus
    if not ray.is_initialized():
        _POOL = None  # actors of an earlier, stopped Ray instance are gone
        ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=True,
        )
        _STARTED_CPUS = cpus
        atexit.register(shutdown_pool)
    return ray


@dataclass
class ActorPool:
    """Live ClientWorker actors and the data sets already put in the object store for them."""

    key: tuple[int, float, int]  # (client_cpus, client_gpus, size)
    actors: list[Any]
    shipped: dict[DataKey, Any] = field(default_factory=dict)  # key -> ObjectRef
    runs: int = 0
    broken: bool = False

    def data_ref(self, ray: Any, key: DataKey, data: FederatedData) -> Any:
        """`data` in the object store, put once per pool (the oldest dropped past a few)."""
        if key not in self.shipped:
            self.shipped[key] = ray.put(data)
            while len(self.shipped) > _MAX_SHIPPED:
                self.shipped.pop(next(iter(self.shipped)))
        return self.shipped[key]


_POOL: ActorPool | None = None


def acquire_pool(ray: Any, run: RunSection, num_partitions: int) -> ActorPool:
    """The live pool if it fits this run (same CPUs/GPUs per client and size), else a new one.

    As many actors as CPUs allow, at most one per node.
    """
    global _POOL
    cpus = int(ray.cluster_resources().get("CPU", 1))
    size = max(1, min(num_partitions, cpus // run.client_cpus))
    key = (run.client_cpus, float(run.client_gpus), size)
    if _POOL is not None and (_POOL.key != key or _POOL.broken):
        _kill(ray, _POOL)
        _POOL = None
    if _POOL is None:
        worker = ray.remote(num_cpus=run.client_cpus, num_gpus=run.client_gpus)(ClientWorker)
        _POOL = ActorPool(key, [worker.remote(run.client_cpus) for _ in range(size)])
    return _POOL


def _kill(ray: Any, pool: ActorPool) -> None:
    pool.shipped.clear()
    for actor in pool.actors:
        ray.kill(actor)


def shutdown_pool() -> None:
    """Kill the pool's actors and stop the Ray instance this module started (if any)."""
    global _POOL, _STARTED_CPUS
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        _POOL, _STARTED_CPUS = None, None
        return
    if _POOL is not None:
        _kill(ray, _POOL)
        _POOL = None
    if _STARTED_CPUS is not None:
        ray.shutdown()
        _STARTED_CPUS = None


class RayExecutor:
    """Runs one run's messages on the process's actor pool (created or reused)."""

    def __init__(
        self,
        run_config: dict,
        num_partitions: int,
        run: RunSection,
        data: tuple[DataKey, FederatedData] | None = None,
    ) -> None:
        self._ray = start_ray(run.num_cpus)
        self._pool = acquire_pool(self._ray, run, num_partitions)
        self._pool.runs += 1
        self._actors = self._pool.actors
        key, ref = (None, None)
        if data is not None:
            key, ref = data[0], self._pool.data_ref(self._ray, data[0], data[1])
        # Queued behind the constructor, ahead of this run's calls (an actor runs its calls in
        # order); a failure surfaces in those calls' replies (see ClientWorker.reset).
        for actor in self._actors:
            actor.reset.remote(run_config, num_partitions, key, ref)

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
                self._pool.broken = True  # and the next run starts a fresh pool
                batch = [error_reply(messages[p], err) for p in positions]
            for position, reply in zip(positions, batch, strict=True):
                replies[position] = reply
        return replies  # type: ignore[return-value]

    def close(self) -> None:
        """End this run; the actors stay up for the next one (see `shutdown_pool`)."""
        return None
