"""DirectGrid + RecordingGrid: Flower's FedAvg on our grid, failures, ordering, bytes."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp.strategy import FedAvg

from fedsim.engine.executors import NODE_ID_OFFSET, InlineExecutor
from fedsim.engine.grid import DirectGrid
from fedsim.engine.recording import RecordingGrid, content_bytes


def _arrays(w: np.ndarray) -> ArrayRecord:
    return ArrayRecord({"w": Array(w)})


def _toy_app(fail_partitions: frozenset[int] = frozenset()) -> ClientApp:
    """Client k replies weights + (k+1) and num-examples = k+1; listed partitions raise."""
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        pid = int(context.node_config["partition-id"])
        if pid in fail_partitions:
            raise RuntimeError(f"client {pid} broke")
        w = msg.content["arrays"]["w"].numpy() + (pid + 1)
        metrics = MetricRecord({"num-examples": pid + 1, "loss": float(pid)})
        return Message(RecordDict({"arrays": _arrays(w), "metrics": metrics}), reply_to=msg)

    return app


def _grid(n: int, fail: frozenset[int] = frozenset()) -> RecordingGrid:
    return RecordingGrid(DirectGrid(InlineExecutor(_toy_app(fail), {}, n), n))


def _fedavg(n: int) -> FedAvg:
    return FedAvg(fraction_evaluate=0.0, min_train_nodes=n, min_available_nodes=n)


def test_flower_fedavg_on_direct_grid_is_the_weighted_mean() -> None:
    """Client k adds k+1 with weight k+1: one round adds sum((k+1)^2)/sum(k+1)."""
    n = 4
    result = _fedavg(n).start(
        _grid(n), _arrays(np.zeros(3, np.float32)), num_rounds=2, train_config=ConfigRecord()
    )
    per_round = sum((k + 1) ** 2 for k in range(n)) / sum(k + 1 for k in range(n))
    np.testing.assert_allclose(result.arrays["w"].numpy(), 2 * per_round, rtol=1e-6)


def test_failing_client_is_recorded_and_the_round_completes() -> None:
    n, grid = 4, _grid(4, frozenset({2}))
    result = _fedavg(n).start(grid, _arrays(np.zeros(1, np.float32)), num_rounds=1)
    survivors = [0, 1, 3]
    expected = sum((k + 1) ** 2 for k in survivors) / sum(k + 1 for k in survivors)
    np.testing.assert_allclose(result.arrays["w"].numpy(), expected, rtol=1e-6)
    log = grid.take()
    assert [f["node_id"] for f in log.failures] == [NODE_ID_OFFSET + 2]
    assert "client 2 broke" in log.failures[0]["reason"]
    assert [c["node_id"] - NODE_ID_OFFSET for c in log.clients] == survivors


def test_replies_sorted_by_node_and_bytes_counted() -> None:
    n, grid = 5, _grid(5)
    content = RecordDict(
        {"arrays": _arrays(np.zeros(10, np.float32)), "config": ConfigRecord({"server-round": 1})}
    )
    order = [3, 0, 4, 1, 2]
    messages = [Message(content, NODE_ID_OFFSET + k, "train") for k in order]
    replies = grid.send_and_receive(messages)
    assert [r.metadata.src_node_id - NODE_ID_OFFSET for r in replies] == sorted(order)
    assert all(r.metadata.reply_to_message_id and r.metadata.message_id for r in replies)
    log = grid.take()
    assert log.sent == n * content_bytes(content)
    assert log.received == sum(content_bytes(r.content) for r in replies)
    assert grid.take().sent == 0  # take() starts a fresh log


def test_messages_are_copied_per_node() -> None:
    """Mods mutate message content; one node's mutation must not reach another."""
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        msg.content["config"]["touched"] = True
        return Message(RecordDict({"metrics": MetricRecord({"num-examples": 1})}), reply_to=msg)

    grid = DirectGrid(InlineExecutor(app, {}, 2), 2)
    content = RecordDict({"config": ConfigRecord({"server-round": 1})})
    grid.send_and_receive([Message(content, NODE_ID_OFFSET + k, "train") for k in range(2)])
    assert "touched" not in content["config"]


def test_message_to_unknown_node_is_refused() -> None:
    grid = DirectGrid(InlineExecutor(_toy_app(), {}, 2), 2)
    with pytest.raises(ValueError, match="invalid message"):
        grid.push_messages([Message(RecordDict(), 99, "train")])


def test_federation_size_mismatch_is_refused() -> None:
    """FedAvg would wait forever for a missing node: the session refuses up front."""
    from fedsim.config import load_config
    from fedsim.engine.session import check_federation_size
    from fedsim.errors import ConfigError

    grid = DirectGrid(InlineExecutor(_toy_app(), {}, 3), 3)
    check_federation_size(grid, load_config(None, ["data.num_clients=3"]))
    with pytest.raises(ConfigError, match="federation has 3 nodes"):
        check_federation_size(grid, load_config(None, ["data.num_clients=4"]))


def test_wire_copy_isolates_records_and_shares_arrays() -> None:
    """A client may change what it received; the server's message stays as it was sent."""
    from fedsim.engine.executors import wire_copy

    arrays = _arrays(np.arange(3, dtype=np.float32))
    content = RecordDict({"arrays": arrays, "config": ConfigRecord({"server-round": 2, "l": [1]})})
    sent = Message(content, NODE_ID_OFFSET, "train")
    got = wire_copy(sent)
    got.content["config"].pop("server-round")
    got.content["config"]["l"].append(2)
    got.content["arrays"]["extra"] = Array(np.zeros(1, np.float32))
    got.content["more"] = ConfigRecord({"x": 1})
    got.metadata.__dict__["_dst_node_id"] = 7
    assert dict(sent.content["config"]) == {"server-round": 2, "l": [1]}
    assert list(sent.content["arrays"].keys()) == ["w"]
    assert list(sent.content) == ["arrays", "config"]
    assert sent.metadata.dst_node_id == NODE_ID_OFFSET
    assert wire_copy(sent).content["arrays"]["w"] is arrays["w"]  # bytes are not copied
    assert wire_copy(sent).metadata.message_type == "train"
    same = wire_copy(sent)  # still Flower's types, checking values, hashing as the original
    assert type(same.content) is RecordDict and type(same.content["config"]) is ConfigRecord
    assert same.content.object_id == sent.content.object_id
    with pytest.raises(TypeError):
        same.content["config"]["bad"] = object()  # type: ignore[assignment]
