"""A pool of Ray actors that runs the clients' messages, alive for the whole run or sweep.

Each round's messages are spread over the actors by measured, else expected, work
(fedsim.engine.balance: largest first onto the least-loaded actor, a node staying on
the actor it last ran on when that is as good), so that no actor idles while another
works. One Ray call per actor per round carries all of that actor's messages. Client
state (a node's Context.state: DP accountants, SecAgg+ keys) comes back to the driver
after every call that changed it and goes with the node's next message when that runs on
another actor, so the driver always holds every node's latest state (checkpoints read it
there).

The pool outlives a run: the next run in the same process with the same
(client_cpus, client_gpus, pool size) reuses the live actors (a sweep pays Ray's and the
actors' start-up once). Each run begins with `ClientWorker.reset`: fresh node Contexts (no
client state leaks between runs) and the driver's already-partitioned data, put in Ray's
object store once and read zero-copy, so actors never load or partition data. Ray stops
at process exit or on `shutdown_pool()`.

An actor that dies mid-round (RayActorError) or does not answer within the round's
deadline (client timeout x its messages + a grace period) fails its messages with Error
replies and is replaced by a fresh actor for later rounds; its nodes continue from the
state the driver last received for them.
"""

from __future__ import annotations

import atexit
import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from flwr.app import Message, MetricRecord, RecordDict

from fedsim.config import DataSection, RunSection
from fedsim.data.types import FederatedData
from fedsim.engine import ray_early
from fedsim.engine.balance import MeasuredWork, Work, balanced_assignment
from fedsim.engine.executors import (
    NODE_ID_OFFSET,
    NodeRunner,
    error_reply,
    failure_reply,
    wire_copy,
)
from fedsim.engine.gc_tuning import fewer_collections_for_process
from fedsim.engine.ray_address import (
    KEY,
    init_kwargs,
    local_target,
    probe_cluster,
    resolve_ray_address,
)
from fedsim.engine.ray_lean import lean_local_start
from fedsim.engine.update_check import records_of
from fedsim.errors import ConfigError
from fedsim.quiet import quiet_environment

DataKey = tuple[DataSection, int]  # (data section, seed): what a FederatedData is cut from
_MAX_SHIPPED = 2  # data sets kept in the object store for a pool (as clients.app primes)
_GRACE_S = 30.0  # beyond the client timeout, how long the driver waits for a worker
WORKER_ENV = "FEDSIM_RAY_WORKER"  # set in every actor (fault injection checks it)


class ClientWorker:
    """Ray actor body: a NodeRunner over fedsim's ClientApp, with a fixed torch thread count.

    Built once per pool; `reset` starts each run.
    """

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        fewer_collections_for_process()  # this process only runs clients (gc_tuning)
        os.environ[WORKER_ENV] = "1"
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

    def run(self, messages: list[Message], timeout: float | None = None) -> list[Message]:
        """Replies to `messages` (in order), each node in its Context on this actor."""
        if self._runner is None:
            raise RuntimeError(self._reset_error)
        return self._runner.run(_unshared(messages), timeout)

    def run_moved(
        self, messages: list[Message], timeout: float | None, states: dict[int, RecordDict]
    ) -> tuple[list[Message], dict[int, RecordDict]]:
        """`run`, after giving nodes that last ran elsewhere their latest `states`; returns
        the replies and the non-empty states of the nodes that ran."""
        if self._runner is None:
            raise RuntimeError(self._reset_error)
        self._runner.restore_node_states(states)
        replies = self._runner.run(_unshared(messages), timeout)
        ran = {m.metadata.dst_node_id for m in messages}
        held = self._runner.node_states()
        return replies, {n: held[n] for n in ran if n in held and len(held[n])}

    def node_id(self) -> str:
        """The Ray node this actor runs on (which cluster machine hosts these clients)."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def node_states(self) -> dict[int, RecordDict]:
        """Context.state of the nodes this actor hosts."""
        return {} if self._runner is None else self._runner.node_states()

    def restore_node_states(self, states: dict[int, RecordDict]) -> None:
        """Give this actor's nodes checkpointed Context.state."""
        if self._runner is not None:
            self._runner.restore_node_states(states)


# (address, num_cpus) of the Ray this module started ("local") or joined (HOST:PORT, 0)
_STARTED: tuple[str, int] | None = None


def _unshared(messages: list[Message]) -> list[Message]:
    """The messages with no content object in common (`wire_copy` where needed).

    A strategy sends one content object to every node of a round; pickling one actor's batch
    keeps that sharing, and mods (SecAgg+) mutate content in place, so each node needs its
    own, as the inline executor's copies give it.
    """
    seen: set[int] = set()
    private = []
    for message in messages:
        if id(message.content) in seen:
            message = wire_copy(message)
        seen.add(id(message.content))
        private.append(message)
    return private


def start_ray(num_cpus: int, address: str = "") -> Any:
    """Start a private local Ray instance (never join a stray cluster), or join the running
    cluster named by `address` (run.ray_address, see fedsim.engine.ray_address); reuse ours."""
    global _STARTED
    quiet_environment()
    import ray

    joined = resolve_ray_address(address)
    target = (joined, 0) if joined else local_target(num_cpus)
    early = ray_early.wait()  # a private Ray `start_ray_soon` began
    if early is not None and _STARTED is None:
        _STARTED = early
        atexit.register(shutdown_pool)
    if ray.is_initialized() and _STARTED in (None, target):
        return ray  # ours, or a Ray this process started otherwise
    if joined:
        probe_cluster(joined)  # Ray itself would wait minutes on a dead address
    shutdown_pool()  # ours, started (or joined) with another run.num_cpus / run.ray_address
    try:
        with nullcontext() if joined else lean_local_start():
            ray.init(**init_kwargs(target[1], joined))
    except (ConnectionError, RuntimeError, ValueError) as err:
        if not joined:
            raise
        raise ConfigError(KEY, f"cannot join the Ray cluster at {joined!r}: {err}") from None
    _STARTED = target
    atexit.register(shutdown_pool)
    return ray


@dataclass
class ActorPool:
    """Live ClientWorker actors and the data sets already put in the object store for them."""

    key: tuple[int, float, int]  # (client_cpus, client_gpus, size)
    actors: list[Any]
    worker: Any = None  # the remote ClientWorker class, to replace a lost actor
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
        worker = ray.remote(  # SPREAD: on a cluster, over its nodes rather than packed
            num_cpus=run.client_cpus, num_gpus=run.client_gpus, scheduling_strategy="SPREAD"
        )(ClientWorker)
        actors = [worker.remote(run.client_cpus) for _ in range(size)]
        _POOL = ActorPool(key, actors, worker)
    return _POOL


def _kill(ray: Any, pool: ActorPool) -> None:
    pool.shipped.clear()
    for actor in pool.actors:
        ray.kill(actor)


def pool_nodes() -> list[str]:
    """The Ray node id of each live pool actor, in actor order ([] without a pool)."""
    import sys

    ray = sys.modules.get("ray")
    if _POOL is None or ray is None or not ray.is_initialized():
        return []
    return ray.get([actor.node_id.remote() for actor in _POOL.actors])


def shutdown_pool() -> None:
    """Kill the pool's actors and stop the Ray instance this module started (if any).

    A joined cluster is only disconnected from: ray.shutdown() in a driver that connected to
    a cluster leaves the cluster running.
    """
    global _POOL, _STARTED
    import sys

    if _STARTED is None:  # a background start nobody took yet: it is ours to stop
        try:
            _STARTED = ray_early.wait()
        except Exception:  # noqa: BLE001 - it failed to start: nothing to stop
            _STARTED = None
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        _POOL, _STARTED = None, None
        return
    if _POOL is not None:
        _kill(ray, _POOL)
        _POOL = None
    if _STARTED is not None:
        ray.shutdown()
        _STARTED = None
    ray_early.forget()


class RayExecutor:
    """Runs one run's messages on the process's actor pool (created or reused)."""

    def __init__(
        self,
        run_config: dict,
        num_partitions: int,
        run: RunSection,
        data: tuple[DataKey, FederatedData] | None = None,
        work: Work | None = None,
    ) -> None:
        self._ray = start_ray(run.num_cpus, run.ray_address)
        # a message's cost for balancing: measured seconds, else expected units (see balance)
        self._work = MeasuredWork(work or (lambda pid, kind: 1.0))
        self._states: dict[int, RecordDict] = {}  # node -> its latest non-empty state
        self._home: dict[int, int] = {}  # node -> the actor holding its latest state
        self._pool = acquire_pool(self._ray, run, num_partitions)
        self._pool.runs += 1
        self._actors = self._pool.actors
        key, ref = (None, None)
        if data is not None:
            key, ref = data[0], self._pool.data_ref(self._ray, data[0], data[1])
        self._reset_args = (run_config, num_partitions, key, ref)
        self._threads = run.client_cpus
        # Queued behind the constructor, ahead of this run's calls (an actor runs its calls in
        # order); a failure surfaces in those calls' replies (see ClientWorker.reset).
        for actor in self._actors:
            actor.reset.remote(*self._reset_args)

    def _assign(self, messages: list[Message]) -> list[int]:
        """The actor of each message: balanced by measured, else expected, work (balance)."""
        nodes = [m.metadata.dst_node_id for m in messages]
        work = self._work
        costs = [work(n - NODE_ID_OFFSET, m.metadata.message_type)
                 for n, m in zip(nodes, messages, strict=True)]  # fmt: skip
        return balanced_assignment(costs, len(self._actors), [self._home.get(n) for n in nodes])

    def worker_of(self, node_id: int) -> int | None:
        """The actor index that last ran `node_id` (None before it ran)."""
        return self._home.get(node_id)

    def start(self, messages: list[Message], timeout: float | None = None) -> object:
        groups: dict[int, list[int]] = {}
        for position, actor in enumerate(self._assign(messages)):
            groups.setdefault(actor, []).append(position)
        calls = []
        for a, positions in groups.items():
            batch = [messages[p] for p in positions]
            moved = {n: self._states[n] for n in (m.metadata.dst_node_id for m in batch)
                     if n in self._states and self._home.get(n) != a}  # fmt: skip
            calls.append((a, positions, self._actors[a].run_moved.remote(batch, timeout, moved)))
        deadline = None if timeout is None else timeout * len(messages) + _GRACE_S
        return messages, calls, deadline

    def collect(self, handle: object) -> list[Message]:
        messages, calls, deadline = handle  # type: ignore[misc]
        replies: list[Message | None] = [None] * len(messages)
        for actor, positions, ref in calls:
            for position, reply in zip(positions, self._batch(actor, ref, [
                messages[p] for p in positions], deadline), strict=True):
                replies[position] = reply
        return replies  # type: ignore[return-value]

    def _batch(self, actor: int, ref: Any, sent: list[Message], deadline: float | None) -> list:
        """One actor's replies; Error replies for all of them if the actor is lost or hangs."""
        try:  # one call into Ray, not a wait and then a get (~0.5 ms an actor a round)
            replies, states = self._ray.get(ref, timeout=deadline)
        except self._ray.exceptions.GetTimeoutError:
            self._replace(actor)
            return [failure_reply(m, f"worker gave no answer within {deadline:g} s") for m in sent]
        except self._ray.exceptions.RayActorError as err:  # died mid-round: fail, replace
            self._replace(actor)
            return [failure_reply(m, f"worker lost: {type(err).__name__}") for m in sent]
        except Exception as err:  # the actor is alive but broken: the next run starts afresh
            self._pool.broken = True
            return [error_reply(m, err) for m in sent]
        self._states.update(states)
        self._home.update((m.metadata.dst_node_id, actor) for m in sent)
        for message, reply in zip(sent, replies, strict=True):
            self._observe(message, reply)
        return replies

    def _observe(self, message: Message, reply: Message) -> None:
        """Remember the handler seconds a reply reports, for balancing later rounds."""
        if reply.has_error() or not reply.has_content():
            return
        for record in records_of(reply.content, MetricRecord):
            if isinstance(record.get("seconds"), float):
                pid = message.metadata.dst_node_id - NODE_ID_OFFSET
                self._work.observe(pid, message.metadata.message_type, record["seconds"])

    def _replace(self, actor: int) -> None:
        """A fresh actor in place of a lost or hung one, started on this run; its nodes go
        on from the state the driver last received for them."""
        self._ray.kill(self._actors[actor])
        self._actors[actor] = self._pool.worker.remote(self._threads)
        self._actors[actor].reset.remote(*self._reset_args)
        self._home = {n: a for n, a in self._home.items() if a != actor}

    def node_states(self) -> dict[int, RecordDict]:
        """Every node's latest non-empty Context.state (the driver holds them all)."""
        return dict(self._states)

    def restore_node_states(self, states: dict[int, RecordDict]) -> None:
        """Checkpointed Context.states: each goes with its node's next message."""
        self._states.update(states)
        for node_id in states:
            self._home.pop(node_id, None)

    def close(self) -> None:
        """End this run; the actors stay up for the next one (see `shutdown_pool`)."""
        return None
