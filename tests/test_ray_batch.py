"""RayExecutor._batch: one actor's replies, or Error replies when it hangs or dies (a fake
Ray: the real paths need a hung or killed actor, which `tests/test_faults.py` and the long
resume test exercise end to end)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.supercore.task_identity import TaskIdentity

from fedsim.engine.balance import MeasuredWork
from fedsim.engine.executors import NODE_ID_OFFSET
from fedsim.engine.ray_executor import RayExecutor


@pytest.fixture(autouse=True)
def server_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Message() reads the run from TaskIdentity, which the grid sets in a real run."""
    for name, value in (("_run_id", 1), ("_node_id", SUPERLINK_NODE_ID), ("_task_id", 0)):
        monkeypatch.setattr(TaskIdentity, name, value)


class GetTimeoutError(Exception):
    pass


class RayActorError(Exception):
    pass


class FakeRay:
    exceptions = SimpleNamespace(GetTimeoutError=GetTimeoutError, RayActorError=RayActorError)

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.killed: list[Any] = []
        self.timeouts: list[float | None] = []

    def get(self, ref: Any, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def kill(self, actor: Any) -> None:
        self.killed.append(actor)


class FakeActor:
    def __init__(self) -> None:
        self.reset = SimpleNamespace(remote=lambda *args: None)


def executor(ray: FakeRay) -> RayExecutor:
    ex = object.__new__(RayExecutor)
    pool = SimpleNamespace(worker=SimpleNamespace(remote=lambda threads: FakeActor()), broken=False)
    ex.__dict__.update(_ray=ray, _pool=pool, _actors=[FakeActor(), FakeActor()], _states={},
                       _home={NODE_ID_OFFSET: 0}, _work=MeasuredWork(lambda pid, kind: 1.0),
                       _threads=1, _reset_args=())  # fmt: skip
    return ex


def sent_messages() -> list[Message]:
    return [Message(RecordDict({"config": ConfigRecord({"server-round": 1})}),
                    NODE_ID_OFFSET + p, "train") for p in (0, 1)]  # fmt: skip


def test_replies_are_returned_and_their_seconds_observed() -> None:
    sent = sent_messages()
    replies = [Message(RecordDict({"metrics": MetricRecord({"seconds": 0.25 * (i + 1)})}),
                       reply_to=m) for i, m in enumerate(sent)]  # fmt: skip
    ray = FakeRay((replies, {}))
    ex = executor(ray)
    assert ex._batch(1, "ref", sent, 12.5) == replies
    assert ray.timeouts == [12.5]
    assert (ex._work(0, "train"), ex._work(1, "train")) == (0.25, 0.5)
    assert ex.worker_of(NODE_ID_OFFSET) == 1 and ex.worker_of(NODE_ID_OFFSET + 1) == 1


@pytest.mark.parametrize(("error", "reason"), [
    (GetTimeoutError(), "worker gave no answer within 12.5 s"),
    (RayActorError(), "worker lost: RayActorError"),
])  # fmt: skip
def test_a_hung_or_lost_actor_fails_its_messages_and_is_replaced(error: Exception,
                                                                  reason: str) -> None:
    ray = FakeRay(error)
    ex = executor(ray)
    old = ex._actors[0]
    replies = ex._batch(0, "ref", sent_messages(), 12.5)
    assert [r.error.reason for r in replies] == [reason, reason]
    assert ray.killed == [old] and ex._actors[0] is not old
    assert ex.worker_of(NODE_ID_OFFSET) is None  # its nodes go on from the driver's state


def test_a_broken_actor_marks_the_pool_for_a_fresh_start() -> None:
    ex = executor(FakeRay(ValueError("cannot unpickle")))
    replies = ex._batch(0, "ref", sent_messages(), None)
    assert all("cannot unpickle" in r.error.reason for r in replies) and ex._pool.broken
