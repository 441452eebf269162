"""DirectGrid: Flower's public Grid, dispatching messages straight to an executor.

No SuperLink, no polling: push hands messages to the executor, pull returns its replies.
Unmodified Flower strategies (and legacy workflows such as SecAgg+) run on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from flwr.app import Message, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

from fedsim.engine.executors import NODE_ID_OFFSET, Executor, node_id_of


class DirectGrid(Grid):
    """A Grid over `num_nodes` simulated nodes whose messages `executor` runs."""

    def __init__(self, executor: Executor, num_nodes: int, run_id: int = 1) -> None:
        self._executor = executor
        self._node_ids = [node_id_of(p) for p in range(num_nodes)]
        self._pending: dict[str, tuple[object, list[str]]] = {}
        self._ready: dict[str, Message] = {}
        self._timeout: float | None = None
        self.set_run(Run.create_empty(run_id))

    def set_run(self, run: Run) -> None:
        """Set the run; Message() reads the run id from the process-wide TaskIdentity."""
        self._run = run
        TaskIdentity.run_id = run.run_id
        TaskIdentity.node_id = SUPERLINK_NODE_ID
        TaskIdentity.task_id = 0

    @property
    def run(self) -> Run:
        return self._run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> list[int]:
        return list(self._node_ids)

    def partition_of(self, node_id: int) -> int:
        """The partition id the node with `node_id` holds."""
        return node_id - NODE_ID_OFFSET

    def worker_of(self, node_id: int) -> int | None:
        """The executor's worker (Ray actor index) that last ran `node_id`; None inline."""
        worker_of = getattr(self._executor, "worker_of", None)
        return None if worker_of is None else worker_of(node_id)

    def _check(self, message: Message) -> None:
        meta = message.metadata
        known = meta.dst_node_id in self._node_ids
        if not known or meta.reply_to_message_id or meta.ttl <= 0 or meta.delivered_at:
            raise ValueError(f"invalid message for DirectGrid: {meta}")

    def push_messages(self, messages: Iterable[Message]) -> list[str]:
        batch = list(messages)
        for message in batch:
            message.metadata.__dict__["_message_id"] = str(uuid.uuid4())
            self._check(message)
        ids = [m.metadata.message_id for m in batch]
        if batch:
            handle = self._executor.start(batch, self._timeout)
            for message_id in ids:
                self._pending[message_id] = (handle, ids)
        return ids

    def _resolve(self, message_id: str) -> None:
        handle, ids = self._pending[message_id]
        for mid, reply in zip(ids, self._executor.collect(handle), strict=True):
            self._pending.pop(mid, None)
            self._ready[mid] = reply

    def pull_messages(self, message_ids: Iterable[str]) -> list[Message]:
        replies = []
        for message_id in message_ids:
            if message_id in self._pending:
                self._resolve(message_id)
            if message_id in self._ready:
                replies.append(self._ready.pop(message_id))
        return replies

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> list[Message]:
        """Push all, then pull all: replies come back in push order.

        A client that takes longer than `timeout` seconds for a message gets an Error reply
        in place of its own (a straggler is a failure, the round goes on without it).
        """
        self._timeout = timeout
        try:
            return self.pull_messages(self.push_messages(messages))
        finally:
            self._timeout = None

    def node_states(self) -> dict[int, RecordDict]:
        """Every node's Context.state, from the executor."""
        return self._executor.node_states()  # type: ignore[attr-defined]

    def restore_node_states(self, states: dict[int, RecordDict]) -> None:
        """Give the executor's nodes checkpointed Context.state."""
        self._executor.restore_node_states(states)  # type: ignore[attr-defined]
