"""What a client does with a Flower message: train or evaluate the task on its shard."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from torch import nn

from fedsim.attacks.poisoning import poisoned_view
from fedsim.config import Config
from fedsim.data import ArrayDataset, FederatedData, load_federated_data
from fedsim.engine.app_config import resolve_device
from fedsim.engine.ensemble_model import global_model
from fedsim.engine.fast_arrays import install as install_fast_arrays
from fedsim.engine.seeding import client_generator
from fedsim.privacy.models import build_model
from fedsim.tasks import Task, build_task


@dataclass
class ClientRuntime:
    """Per-process client state: data, task, one model reused (weights reloaded per message)."""

    cfg: Config
    data: FederatedData
    task: Task
    model: nn.Module

    @classmethod
    def build(cls, cfg: Config, data: FederatedData | None = None) -> ClientRuntime:
        """The runtime for `cfg`; `data` is the run's FederatedData if the caller has it
        (the Ray executor ships the driver's), else it is loaded and partitioned here."""
        install_fast_arrays()  # the weights cross as Flower Arrays every message
        if data is None:
            data = load_federated_data(cfg.data, cfg.run.seed)
        task = build_task(cfg, data)
        model = build_model(task, cfg).to(resolve_device(cfg.run.device))
        return cls(cfg, data, task, model)

    def shard(self, partition_id: int) -> ArrayDataset:
        """The client's private training examples."""
        idx = self.data.partitions[partition_id]
        return ArrayDataset(self.data.train.x[idx], self.data.train.y[idx])

    def load(self, arrays: ArrayRecord) -> None:
        """Set the model to the received global weights."""
        self.model.load_state_dict(arrays.to_torch_state_dict())

    def arrays(self) -> ArrayRecord:
        """The model's weights as an ArrayRecord (on CPU)."""
        return ArrayRecord({k: v.detach().cpu() for k, v in self.model.state_dict().items()})


def _partition(context: Context) -> int:
    return int(context.node_config["partition-id"])


def handle_train(msg: Message, context: Context, rt: ClientRuntime) -> Message:
    """Train the received model on this client's shard and reply with the new weights."""
    start = time.perf_counter()
    pid = _partition(context)
    config = msg.content["config"]
    rt.load(msg.content["arrays"])
    # malicious clients may train on poisoned / pooled data (fedsim.attacks.poisoning)
    shard, stream = poisoned_view(rt.cfg, pid, rt.data) or (rt.shard(pid), pid)
    generator = client_generator(rt.cfg.run.seed, int(config["server-round"]), stream)
    mu = float(config.get("proximal-mu", 0.0))
    result = rt.task.train(rt.model, shard, rt.cfg.client, generator, proximal_mu=mu)
    arrays = rt.arrays()
    metrics = {
        **result.metrics,
        "num-examples": result.num_examples,
        "loss": result.loss,
        "steps": result.steps,
        "partition-id": pid,
    }
    return _reply(msg, {"arrays": arrays}, metrics, start)


@torch.no_grad()
def handle_evaluate(msg: Message, context: Context, rt: ClientRuntime) -> Message:
    """Score the received global model on this client's shard."""
    start = time.perf_counter()
    pid = _partition(context)
    # an ensemble (stacked member models) is evaluated as one: fedsim.engine.ensemble_model
    model = global_model(rt.model, msg.content["arrays"].to_torch_state_dict(), rt.cfg.task.name)
    shard = rt.shard(pid)
    metrics = {**rt.task.evaluate(model, shard), "num-examples": len(shard), "partition-id": pid}
    return _reply(msg, {}, metrics, start)


def _reply(msg: Message, records: dict, metrics: dict, start: float) -> Message:
    """The reply, its `seconds` metric timing the whole handler up to here (reply built but
    for this one number), so that the engine's overhead is what is left outside handlers."""
    record = MetricRecord(metrics)
    content = RecordDict({**records, "metrics": record})
    reply = Message(content=content, reply_to=msg)
    record["seconds"] = time.perf_counter() - start
    return reply
