"""The "never aggregate" strategies: clients train independently from one common init.

Each round every sampled node gets back *its own* last model (the initial one the first time),
never an average, so after R rounds of H local steps each client has trained alone for R x H
steps. What the server holds as the global model:

- ``ensemble``: the client models stacked (``members.<i>.`` in node-id order; an
  :class:`~fedsim.engine.ensemble_model.EnsembleModel` when loaded), i.e. prediction /
  embedding ensembling. weights.safetensors then holds every member.
- ``oneshot``: their example-weighted FedAvg average (one-shot weight averaging), which the
  clients never train from.

With run.rounds = 1 and client.local_steps = B this is the plain textbook version (train
alone for the whole budget, then ensemble / average once); more rounds give the same
training with a dev curve of the ensemble (or of the average) along the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg
from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords

from fedsim.config import Config
from fedsim.engine.ensemble_model import PREFIX
from fedsim.engine.strategies import STRATEGIES
from fedsim.errors import IncompatibleOptionsError

INDEPENDENT = ("ensemble", "oneshot")


def stack_members(records: list[ArrayRecord]) -> ArrayRecord:
    """One ArrayRecord holding every member's arrays under ``members.<i>.``."""
    return ArrayRecord({f"{PREFIX}{i}.{key}": value for i, record in enumerate(records)
                        for key, value in record.items()})


class IndependentClients(FedAvg):
    """FedAvg's sampling and metrics, but no averaging during training (see module doc)."""

    def __init__(self, final: str, **common: Any) -> None:
        super().__init__(**common)
        self.final = final
        self._initial: ArrayRecord | None = None
        self._replies: dict[int, RecordDict] = {}  # node id -> its latest train reply

    def _own_model(self, node_id: int) -> ArrayRecord:
        reply = self._replies.get(node_id)
        return reply[self.arrayrecord_key] if reply is not None else self._initial

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        """FedAvg's sampled messages, each carrying the node's own model instead of `arrays`."""
        if self._initial is None:
            self._initial = arrays  # round 1: the common initial model
        sampled = list(super().configure_train(server_round, arrays, config, grid))
        return [Message(content=RecordDict({self.arrayrecord_key: self._own_model(node),
                                            self.configrecord_key: config}),
                        message_type=MessageType.TRAIN, dst_node_id=node)
                for node in (m.metadata.dst_node_id for m in sampled)]

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Keep each node's model; the global model is their ensemble or one-shot average."""
        valid, _ = self._check_and_log_replies(list(replies), is_train=True)
        if not valid:
            return None, None
        for msg in valid:
            self._replies[msg.metadata.src_node_id] = msg.content
        members = [self._replies[node] for node in sorted(self._replies)]
        metrics = self.train_metrics_aggr_fn([m.content for m in valid], self.weighted_by_key)
        if self.final == "ensemble":
            return stack_members([m[self.arrayrecord_key] for m in members]), metrics
        return aggregate_arrayrecords(members, self.weighted_by_key), metrics


@STRATEGIES.register("ensemble")
def _ensemble(cfg: Config, common: dict[str, Any]) -> IndependentClients:
    return IndependentClients("ensemble", **common)


@STRATEGIES.register("oneshot")
def _oneshot(cfg: Config, common: dict[str, Any]) -> IndependentClients:
    return IndependentClients("average", **common)


def check_independent(cfg: Config) -> None:
    """Refuse what cannot work when the server must keep every client's own model."""
    if cfg.strategy.name not in INDEPENDENT:
        return
    if cfg.secagg.enabled:
        raise IncompatibleOptionsError(
            "secagg.enabled", f"{cfg.strategy.name} keeps each client's own model, but under "
            "SecAgg+ the server sees only their sum; use false, or strategy fedavg")
    if cfg.privacy.mode == "user":
        raise IncompatibleOptionsError(
            "privacy.mode", f"user-level DP noises the server's average, which "
            f"{cfg.strategy.name} does not train from; allowed here: none, record")
    if getattr(cfg.strategy, "clip_norm", 0.0) > 0:
        raise IncompatibleOptionsError(
            "strategy.clip_norm", "server-side update clipping measures updates from one global "
            f"model, which {cfg.strategy.name} does not send; use 0")
