"""RecordingGrid: wraps any Grid to log what crosses the wire and order replies.

It counts bytes both ways, keeps each client's reply metrics and failures for the
round's record, and returns replies sorted by node id so that aggregation sums in the
same order whatever order replies arrived in (Flower issue #3328).

It is also the server's gate: a training reply that fails `update_problem` (NaN/Inf, wrong
names/shapes/dtypes, too large a norm) is replaced by an Error reply, so the strategy never
aggregates it, and recorded as a failure with the reason. A training round left with fewer
than `min_replies` usable replies stops the run with a ClientFailureError.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flwr.app import Error, Message, MetricRecord, RecordDict
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid
from flwr.supercore.run import Run

from fedsim.engine.record_bytes import record_bytes
from fedsim.engine.update_check import records_of, update_problem
from fedsim.errors import ClientFailureError
from fedsim.privacy.decline import is_decline

TRAIN = "train"
REJECTED = "rejected by the server: "


def content_bytes(content: RecordDict) -> int:
    """Bytes of a message's records (arrays, metrics, configs)."""
    return sum(record_bytes(record) for record in content.values())


def bytes_down(batch: list[Message]) -> dict[int, int]:
    """Bytes each destination node receives, counted once per distinct content object (a
    strategy sends the same content to every node of a round)."""
    sizes: dict[int, int] = {}
    down: dict[int, int] = {}
    for message in batch:
        key = id(message.content)
        if key not in sizes:
            sizes[key] = content_bytes(message.content)
        down[message.metadata.dst_node_id] = sizes[key]
    return down


def _metrics(content: RecordDict) -> dict[str, Any]:
    """A reply's metrics with snake_case keys (num-examples -> num_examples)."""
    values: dict[str, Any] = {}
    for record in records_of(content, MetricRecord):
        values.update({key.replace("-", "_"): value for key, value in record.items()})
    return values


@dataclass
class RoundLog:
    """Everything the grid saw since the last `take()`."""

    clients: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    declines: list[dict[str, Any]] = field(default_factory=list)  # DP budget spent: no training
    sent: int = 0
    received: int = 0


Capture = Callable[[Message, Message, "int | None"], None]


class RecordingGrid(Grid):
    """Delegates to `inner`; records per-client replies, failures and bytes."""

    def __init__(self, inner: Grid, max_update_norm: float = 0.0, min_replies: int = 1,
                 capture: Capture | None = None) -> None:
        self._inner = inner
        self._capture = capture  # sees every (sent, reply, partition id): the update attack
        self._log = RoundLog()
        self._max_update_norm = max_update_norm
        self._min_replies = min_replies

    def take(self) -> RoundLog:
        """The log since the previous call, and start a new one."""
        log, self._log = self._log, RoundLog()
        return log

    def set_run(self, run: Run) -> None:
        self._inner.set_run(run)

    @property
    def run(self) -> Run:
        return self._inner.run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):  # type: ignore[no-untyped-def]
        return self._inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self._inner.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self._inner.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._inner.pull_messages(message_ids)

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> list[Message]:
        """Send, wait, record, and return replies sorted by source node id."""
        batch = list(messages)
        down = bytes_down(batch)
        kinds = {m.metadata.dst_node_id: m.metadata.message_type for m in batch}
        replies = sorted(
            self._inner.send_and_receive(batch, timeout=timeout),
            key=lambda r: r.metadata.src_node_id,
        )
        self._log.sent += sum(down.values())
        sent = {m.metadata.dst_node_id: m for m in batch}
        replies = [self._screened(reply, sent) for reply in replies]
        if self._capture is not None:
            for reply in replies:
                node_id = reply.metadata.src_node_id
                if node_id in sent:
                    self._capture(sent[node_id], reply, self._partition_id(node_id, reply))
        for reply in replies:
            self._record(reply, down, kinds)
        answered = {r.metadata.src_node_id for r in replies}
        for node_id in sorted(set(down) - answered):
            self._fail(node_id, kinds[node_id], None, "no reply before the timeout")
        self._require_enough(batch, replies)
        return replies

    def _screened(self, reply: Message, sent: dict[int, Message]) -> Message:
        """`reply`, or an Error reply in its place when it is an update the server refuses."""
        message = sent.get(reply.metadata.src_node_id)
        if reply.has_error() or message is None or message.metadata.message_type != TRAIN:
            return reply
        problem = update_problem(message.content, reply.content, self._max_update_norm)
        if problem is None:
            return reply
        error = Error(code=ErrorCode.UNKNOWN, reason=REJECTED + problem)
        rejected = Message(error, reply_to=message)
        rejected.metadata.__dict__["_message_id"] = str(uuid.uuid4())
        return rejected

    def _require_enough(self, batch: list[Message], replies: list[Message]) -> None:
        """Stop the run when a training round has fewer usable replies than required."""
        trained = [m for m in batch if m.metadata.message_type == TRAIN]
        if not trained:
            return
        usable = sum(not r.has_error() for r in replies if r.metadata.message_type == TRAIN)
        declined = sum(r.has_error() and is_decline(r.error.reason) for r in replies)
        if usable >= min(self._min_replies, len(trained) - declined):  # a decline is no fault
            return
        config = next(iter(trained[0].content.config_records.values()), {})
        round_no = config.get("server-round", "?")
        reasons = sorted({f["reason"].splitlines()[-1][:200] for f in self._log.failures})
        raise ClientFailureError(
            f"round {round_no}: only {usable} of {len(trained)} sampled clients returned a "
            f"usable update (run.min_replies = {self._min_replies}); failures: "
            + "; ".join(reasons)
        )

    def _partition_id(self, node_id: int, reply: Message) -> int | None:
        """The partition a reply came from: its metric, else what the inner grid knows."""
        pid = _metrics(reply.content).get("partition_id") if not reply.has_error() else None
        if pid is None and hasattr(self._inner, "partition_of"):
            pid = self._inner.partition_of(node_id)
        return None if pid is None else int(pid)

    def _fail(self, node_id: int, stage: str, partition: Any, reason: str) -> None:
        if partition is None and hasattr(self._inner, "partition_of"):
            partition = self._inner.partition_of(node_id)
        self._log.failures.append(
            {"node_id": node_id, "partition_id": partition, "stage": stage, "reason": reason}
        )

    def _record(self, reply: Message, down: dict[int, int], kinds: dict[int, str]) -> None:
        node_id = reply.metadata.src_node_id
        stage = kinds.get(node_id, reply.metadata.message_type)
        if reply.has_error() and is_decline(reply.error.reason):
            partition = getattr(self._inner, "partition_of", lambda _: None)(node_id)
            self._log.declines.append(
                {"node_id": node_id, "partition_id": partition, "reason": reply.error.reason})
            return
        if reply.has_error():
            self._fail(node_id, stage, None, reply.error.reason)
            return
        up = content_bytes(reply.content)
        self._log.received += up
        entry = {"node_id": node_id, "stage": stage, **_metrics(reply.content)}
        entry.update(bytes_up=up, bytes_down=down.get(node_id, 0))
        worker = getattr(self._inner, "worker_of", lambda _: None)(node_id)
        if worker is not None:  # the Ray actor that ran it (benchmarks' critical path)
            entry["worker"] = worker
        self._log.clients.append(entry)
