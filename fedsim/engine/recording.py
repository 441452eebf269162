"""RecordingGrid: wraps any Grid to log what crosses the wire and order replies.

It counts bytes both ways, keeps each client's reply metrics and failures for the
round's record, and returns replies sorted by node id so that aggregation sums in the
same order whatever order replies arrived in (Flower issue #3328).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flwr.app import Message, RecordDict
from flwr.serverapp import Grid
from flwr.supercore.run import Run


def content_bytes(content: RecordDict) -> int:
    """Bytes of a message's records (arrays, metrics, configs)."""
    return sum(record.count_bytes() for record in content.values())


def _metrics(content: RecordDict) -> dict[str, Any]:
    """A reply's metrics with snake_case keys (num-examples -> num_examples)."""
    values: dict[str, Any] = {}
    for record in content.metric_records.values():
        values.update({key.replace("-", "_"): value for key, value in record.items()})
    return values


@dataclass
class RoundLog:
    """Everything the grid saw since the last `take()`."""

    clients: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    received: int = 0


class RecordingGrid(Grid):
    """Delegates to `inner`; records per-client replies, failures and bytes."""

    def __init__(self, inner: Grid) -> None:
        self._inner = inner
        self._log = RoundLog()

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
        down = {m.metadata.dst_node_id: content_bytes(m.content) for m in batch}
        kinds = {m.metadata.dst_node_id: m.metadata.message_type for m in batch}
        replies = sorted(
            self._inner.send_and_receive(batch, timeout=timeout),
            key=lambda r: r.metadata.src_node_id,
        )
        self._log.sent += sum(down.values())
        for reply in replies:
            self._record(reply, down, kinds)
        answered = {r.metadata.src_node_id for r in replies}
        for node_id in sorted(set(down) - answered):
            self._fail(node_id, kinds[node_id], None, "no reply before the timeout")
        return replies

    def _fail(self, node_id: int, stage: str, partition: Any, reason: str) -> None:
        self._log.failures.append(
            {"node_id": node_id, "partition_id": partition, "stage": stage, "reason": reason}
        )

    def _record(self, reply: Message, down: dict[int, int], kinds: dict[int, str]) -> None:
        node_id = reply.metadata.src_node_id
        stage = kinds.get(node_id, reply.metadata.message_type)
        if reply.has_error():
            self._fail(node_id, stage, None, reply.error.reason)
            return
        up = content_bytes(reply.content)
        self._log.received += up
        entry = {"node_id": node_id, "stage": stage, **_metrics(reply.content)}
        entry.update(bytes_up=up, bytes_down=down.get(node_id, 0))
        self._log.clients.append(entry)
