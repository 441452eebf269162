"""What keeps the engine fast: lazy imports, torch's SGD update without torch._dynamo, a Ray
actor pool reused across runs with fresh client state per run, data shipped to the actors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.supercore.task_identity import TaskIdentity

from fedsim.engine.executors import NODE_ID_OFFSET
from fedsim.tasks.local_sgd import TorchSGDUpdate
from tests.helpers import run_config, small_config

HEAVY = ("datasets", "flwr_datasets", "torch._dynamo")


def _modules_after(code: str) -> list[str]:
    """Which HEAVY modules a fresh interpreter has imported after running `code`."""
    report = f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    probe = f"{code}\nimport sys\n{report}"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    line = [x for x in out.stdout.splitlines() if x.startswith("loaded:")][-1]
    return [m for m in line.removeprefix("loaded:").split(",") if m]


def test_client_app_import_pulls_no_partitioning_or_dynamo() -> None:
    """A client process (Ray actor) imports the ClientApp: no datasets/flwr-datasets (~3 s)."""
    assert _modules_after("import clients.app") == []


def test_local_training_never_imports_dynamo() -> None:
    code = (
        "import torch\n"
        "from fedsim.config import ClientSection\n"
        "from fedsim.data import ArrayDataset\n"
        "from fedsim.tasks.local_sgd import local_sgd\n"
        "import numpy as np\n"
        "m = torch.nn.Linear(4, 2)\n"
        "x = np.zeros((8, 1, 2, 2), np.float32); y = np.zeros(8, np.int64)\n"
        "loss = lambda model, a, b: torch.nn.functional.cross_entropy(model(a.flatten(1)), b)\n"
        "c = ClientSection(local_steps=3, batch_size=4, momentum=0.9, weight_decay=1e-3)\n"
        "local_sgd(m, ArrayDataset(x, y), c, torch.Generator().manual_seed(0), loss)\n"
    )
    assert "torch._dynamo" not in _modules_after(code)


@pytest.mark.parametrize(
    ("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 0.0), (0.0, 5e-4), (0.9, 1e-3)]
)
def test_torch_sgd_update_is_bitwise_torch_optim_sgd(momentum: float, weight_decay: float) -> None:
    torch.manual_seed(0)

    def net() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    ours, theirs = net(), net()
    theirs.load_state_dict(ours.state_dict())
    ours_opt = TorchSGDUpdate(ours.parameters(), 0.1, momentum, weight_decay)
    theirs_opt = torch.optim.SGD(
        theirs.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay
    )
    for step in range(25):
        x, y = torch.randn(5, 8), torch.randint(0, 3, (5,))
        for model, opt in ((ours, ours_opt), (theirs, theirs_opt)):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            if step % 4 == 1:  # a parameter without a gradient is skipped, buffer kept
                model[2].bias.grad = None
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)


def _counting_app() -> ClientApp:
    """Replies with how many messages this node's Context has seen (client state)."""
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        seen = int(context.state["seen"]["n"]) + 1 if "seen" in context.state else 1
        context.state["seen"] = MetricRecord({"n": seen})
        return Message(RecordDict({"metrics": MetricRecord({"seen": seen})}), reply_to=msg)

    return app


def test_worker_reset_gives_every_run_fresh_node_contexts() -> None:
    """Client state persists across rounds of a run, never into the next run."""
    from fedsim.engine.ray_executor import ClientWorker

    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 0
    worker = ClientWorker(threads=torch.get_num_threads())
    worker._app = _counting_app()  # the actor body, run in-process with a stateful app

    def seen() -> int:
        msg = Message(RecordDict({}), NODE_ID_OFFSET + 1, "train")
        msg.metadata.__dict__["_message_id"] = "m"
        return int(worker.run([msg])[0].content["metrics"]["seen"])

    with pytest.raises(RuntimeError, match="no run started"):
        seen()
    worker.reset({}, 2, None, None)
    assert [seen(), seen(), seen()] == [1, 2, 3]
    worker.reset({}, 2, None, None)
    assert seen() == 1


def test_a_failed_run_start_is_named_in_every_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    import clients.app
    from fedsim.engine.ray_executor import ClientWorker

    def broken_prime(*args: object) -> None:
        raise ValueError("no such data")

    monkeypatch.setattr(clients.app, "prime", broken_prime)
    worker = ClientWorker(threads=torch.get_num_threads())
    with pytest.raises(ValueError):
        worker.reset({}, 2, ("key", 0), object())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="starting the run on this actor failed.*no such data"):
        worker.run([])


def test_worker_gives_each_node_its_own_content() -> None:
    """One content object for all nodes of a round survives pickling within an actor's batch;
    a mod mutating it (SecAgg+ does) must not leak into the next node's message."""
    import pickle

    from fedsim.engine.ray_executor import ClientWorker

    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        record = msg.content["metrics"]
        record["touched"] = int(record.get("touched", 0)) + 1  # mutates the received content
        reply = RecordDict({"metrics": MetricRecord({"t": record["touched"]})})
        return Message(reply, reply_to=msg)

    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 0
    shared = RecordDict({"metrics": MetricRecord({"touched": 0})})
    batch = [Message(shared, NODE_ID_OFFSET + k, "train") for k in range(3)]
    for k, msg in enumerate(batch):
        msg.metadata.__dict__["_message_id"] = f"m{k}"
    batch = pickle.loads(pickle.dumps(batch))  # what a Ray call delivers
    assert batch[0].content is batch[1].content
    worker = ClientWorker(threads=torch.get_num_threads())
    worker._app = app
    worker.reset({}, 3, None, None)
    assert [int(r.content["metrics"]["t"]) for r in worker.run(batch)] == [1, 1, 1]


def test_ray_pool_is_reused_across_runs_with_identical_weights(runs_dir: Path) -> None:
    """A second run on live actors = a fresh pool = inline, bitwise; actors never partition."""
    from fedsim.engine import ray_executor

    overrides = ("data.partitioner=dirichlet", "data.alpha=0.5", "strategy.clients_per_round=3")
    inline = run_config(small_config(runs_dir, *overrides))[1]
    ray_executor.shutdown_pool()
    fresh = run_config(small_config(runs_dir, *overrides, "run.backend=ray"))[1]
    pool = ray_executor._POOL
    assert pool is not None and pool.runs == 1
    actors = [a._actor_id for a in pool.actors]
    reused = run_config(small_config(runs_dir, *overrides, "run.backend=ray"))[1]
    assert ray_executor._POOL is pool and pool.runs == 2
    assert [a._actor_id for a in pool.actors] == actors
    assert fresh["weights_sha256"] == reused["weights_sha256"] == inline["weights_sha256"]
    assert fresh["final"] == reused["final"] == inline["final"]
    loaded = ray_executor.start_ray(0).get([a.loaded.remote(list(HEAVY)) for a in pool.actors])
    assert loaded == [[] for _ in pool.actors]  # data came from the driver, SGD without dynamo
    ray_executor.shutdown_pool()
    assert ray_executor._POOL is None


def test_node_state_follows_a_node_to_another_actor() -> None:
    """The Ray executor moves a node between actors to balance a round: the driver ships the
    state the last actor returned, and the count goes on instead of starting again."""
    from fedsim.engine.ray_executor import ClientWorker

    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 0
    actors = [ClientWorker(threads=torch.get_num_threads()) for _ in range(2)]
    for actor in actors:
        actor._app = _counting_app()
        actor.reset({}, 2, None, None)
    node = NODE_ID_OFFSET + 1

    def seen(actor: ClientWorker, states: dict) -> tuple[int, dict]:
        msg = Message(RecordDict({}), node, "train")
        msg.metadata.__dict__["_message_id"] = "m"
        replies, back = actor.run_moved([msg], None, states)
        return int(replies[0].content["metrics"]["seen"]), back

    first, state = seen(actors[0], {})
    second, state = seen(actors[0], {})  # stays: nothing shipped
    assert (first, second) == (1, 2) and list(state) == [node]
    assert seen(actors[1], {})[0] == 1  # moved without its state: it would start again
    actors[1].reset({}, 2, None, None)
    third, state = seen(actors[1], state)  # moved with the state actor 0 returned
    assert third == 3 and state[node] is not None


def test_the_federation_starts_before_the_report_loads_matplotlib(tmp_path: Path) -> None:
    """matplotlib (~0.4 s) is for the report after the run: no round waits for its import."""
    from tests.conftest import SMALL

    overrides = [*SMALL, "run.rounds=1", f'run.runs_dir="{tmp_path}"']
    probe = (
        "import sys\n"
        "from fedsim.tracking import rounds\n"
        "seen = []\n"
        "log_round = rounds.RoundTracker.log_round\n"
        "def logged(self, *args, **kwargs):\n"
        "    seen.append('matplotlib' in sys.modules)\n"
        "    return log_round(self, *args, **kwargs)\n"
        "rounds.RoundTracker.log_round = logged\n"
        "from fedsim.config import load_config\n"
        "from fedsim.engine.run import run\n"
        f"run(load_config(None, {overrides!r}))\n"
        "print('matplotlib at rounds:', seen, 'at the end:', 'matplotlib' in sys.modules)\n"
    )
    env = {**os.environ, "FEDSIM_NO_PROGRESS": "1"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=300, env=env)  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == (
        "matplotlib at rounds: [False, False] at the end: True"
    )
