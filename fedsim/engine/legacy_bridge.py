"""Client mods that let fedsim's Message-API ClientApp answer Flower's legacy messages.

SecAgg+ exists only on Flower's legacy path (FitIns/FitRes in the records), and its client
mod `secaggplus_mod` masks a legacy FitRes. Rather than a second client, `legacy_bridge_mod`
turns a legacy fit/evaluate message into the Message-API one fedsim's handlers read
(named arrays + config), calls them, and turns the reply back: the update is computed by
the very same `handle_train` as on the plain path, attack mods included.

Chain (outermost first): secaggplus_mod, expose_metrics_mod, [fixedclipping_mod],
legacy_bridge_mod.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.message_type import MessageType
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import (
    Code,
    EvaluateRes,
    FitRes,
    Parameters,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.compat.common import recorddict_compat as compat

from fedsim.engine.app_config import config_from_context
from fedsim.engine.seeding import stream_seed

NAMES_KEY = "weight-names"  # legacy Parameters are unnamed: the server sends the names
ROUND_KEY = "server-round"
LEGACY_METRICS = ("fitres.metrics", "evaluateres.metrics")
ROUNDING_STREAM = 7  # keys np.random for SecAgg+'s stochastic rounding (seed, round, this, pid)


def _named_arrays(parameters: Parameters, names: list[str]) -> ArrayRecord:
    arrays = parameters_to_ndarrays(parameters)
    return ArrayRecord(OrderedDict((n, torch.from_numpy(a)) for n, a in zip(names, arrays,
                                                                              strict=True)))


def _message_api_content(msg: Message) -> RecordDict:
    """A legacy FitIns/EvaluateIns as fedsim's handlers read it: arrays + config."""
    if msg.metadata.message_type == MessageType.TRAIN:
        ins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    else:
        ins = compat.recorddict_to_evaluateins(msg.content, keep_input=True)
    config = dict(ins.config)
    names = str(config.pop(NAMES_KEY)).split(",")
    if "proximal_mu" in config:  # legacy FedProx's key
        config["proximal-mu"] = float(config["proximal_mu"])
    return RecordDict({"arrays": _named_arrays(ins.parameters, names),
                       "config": ConfigRecord(config)})


def _legacy_reply_content(reply: Message, message_type: str, uniform: bool) -> RecordDict:
    """fedsim's reply (arrays + metrics) as a legacy FitRes/EvaluateRes. With `uniform`
    (user-level DP) every update weighs 1, so one client moves the mean by at most C/m."""
    metrics = dict(reply.content["metrics"])
    ok = Status(Code.OK, "ok")  # not "": ConfigRecord.count_bytes refuses empty strings
    examples = int(metrics["num-examples"])
    if message_type == MessageType.TRAIN:
        arrays = [a.numpy() for a in reply.content["arrays"].values()]
        weight = 1 if uniform else examples
        fitres = FitRes(ok, ndarrays_to_parameters(arrays), weight, metrics)
        return compat.fitres_to_recorddict(fitres, keep_input=True)
    res = EvaluateRes(ok, float(metrics["loss"]), examples, metrics)
    return compat.evaluateres_to_recorddict(res)


def legacy_bridge_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Answer a legacy fit/evaluate message with fedsim's own handler.

    After training it seeds NumPy's global RNG by (seed, round, partition): SecAgg+ rounds
    stochastically with it, and a seeded stream makes runs reproducible on every backend.
    """
    kind = msg.metadata.message_type
    if kind not in (MessageType.TRAIN, MessageType.EVALUATE):
        return call_next(msg, context)
    msg.content = _message_api_content(msg)
    server_round = int(msg.content["config"][ROUND_KEY])
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    cfg = config_from_context(context)
    reply.content = _legacy_reply_content(reply, kind, cfg.privacy.mode == "user")
    pid = int(context.node_config["partition-id"])
    np.random.seed(stream_seed(cfg.run.seed, server_round, ROUNDING_STREAM, pid) % 2**32)
    return reply


def expose_metrics_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Copy a legacy reply's numeric metrics into a MetricRecord "metrics", where fedsim's
    RecordingGrid reads per-client metrics (legacy FitRes keeps them in a ConfigRecord)."""
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    for key in LEGACY_METRICS:
        if key in reply.content.config_records:
            values = reply.content.config_records[key]
            reply.content["metrics"] = MetricRecord(
                {k: v for k, v in values.items() if isinstance(v, int | float)
                 and not isinstance(v, bool)})
    return reply

