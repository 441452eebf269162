"""Executors run ClientApp messages for a Grid: in this process, or on a pool of Ray actors."""

from __future__ import annotations

import copy
import traceback
import uuid
from collections.abc import Callable
from typing import Protocol

from flwr.app import Context, Error, Message, RecordDict
from flwr.common.constant import ErrorCode

NODE_ID_OFFSET = 1000  # node id = NODE_ID_OFFSET + partition id (Flower reserves 0 and 1)

ClientCallable = Callable[[Message, Context], Message]


def node_id_of(partition_id: int) -> int:
    """The node id the fedsim grid gives the client holding `partition_id`."""
    return NODE_ID_OFFSET + partition_id


class Executor(Protocol):
    """Runs messages; `start` may return at once, `collect` returns replies in order."""

    def start(self, messages: list[Message]) -> object: ...

    def collect(self, handle: object) -> list[Message]: ...

    def close(self) -> None: ...


def finish_reply(reply: Message) -> Message:
    """Give a ClientApp reply the metadata a SuperLink would (message id, delivery)."""
    reply.metadata.__dict__["_message_id"] = str(uuid.uuid4())
    return reply


def error_reply(message: Message, err: BaseException) -> Message:
    """An Error reply carrying the exception, so the strategy sees a failure, not silence."""
    reason = "".join(traceback.format_exception_only(type(err), err)).strip()
    return finish_reply(
        Message(
            Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason[:2000]),
            reply_to=message,
        )
    )


class NodeRunner:
    """Calls a ClientApp for the nodes it hosts, each with its own persistent Context."""

    def __init__(self, client_app: ClientCallable, run_config: dict, num_partitions: int) -> None:
        self._app = client_app
        self._run_config = run_config
        self._num_partitions = num_partitions
        self._contexts: dict[int, Context] = {}

    def _context(self, node_id: int) -> Context:
        if node_id not in self._contexts:
            node_config = {
                "partition-id": node_id - NODE_ID_OFFSET,
                "num-partitions": self._num_partitions,
            }
            self._contexts[node_id] = Context(
                run_id=1,
                node_id=node_id,
                node_config=node_config,
                state=RecordDict(),
                run_config=dict(self._run_config),
            )
        return self._contexts[node_id]

    def run_one(self, message: Message) -> Message:
        """One reply; a ClientApp exception becomes an Error reply."""
        try:
            reply = self._app(message, self._context(message.metadata.dst_node_id))
        except Exception as err:  # a failing client must not kill the run
            return error_reply(message, err)
        return finish_reply(reply)

    def run(self, messages: list[Message]) -> list[Message]:
        """Replies to `messages`, in order."""
        return [self.run_one(m) for m in messages]


class InlineExecutor:
    """Runs every client in the driver process (messages deep-copied: mods mutate them)."""

    def __init__(self, client_app: ClientCallable, run_config: dict, num_partitions: int) -> None:
        self._runner = NodeRunner(client_app, run_config, num_partitions)

    def start(self, messages: list[Message]) -> object:
        return self._runner.run([copy.deepcopy(m) for m in messages])

    def collect(self, handle: object) -> list[Message]:
        return list(handle)  # type: ignore[call-overload]

    def close(self) -> None:
        return None
