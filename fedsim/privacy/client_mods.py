"""The privacy mods a client carries, by ``privacy.mode``.

record: DP-SGD around training (`record_dp_mod`).
user: every training reply weighs 1 in the average (the noise of DP-FedAvg is calibrated to
an unweighted mean of clipped updates), and with ``clipping_side = "client"`` Flower's
fixedclipping_mod / adaptiveclipping_mod clip the update before it leaves the client.
Flower's clipping mods read the clipping norm from every message they see, so they are
applied to training messages only.
"""

from __future__ import annotations

from flwr.app import Context, Message, MessageType, MetricRecord
from flwr.clientapp.mod import adaptiveclipping_mod, fixedclipping_mod
from flwr.clientapp.typing import ClientAppCallable, Mod

from fedsim.config import Config

UNIT_WEIGHT_KEY = "dp-weight"


def train_only(mod: Mod) -> Mod:
    """`mod` applied to training messages; other messages go straight to the handler."""

    def wrapped(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, context)
        return mod(msg, context, call_next)

    wrapped.__name__ = f"train_only_{getattr(mod, '__name__', 'mod')}"
    return wrapped


def unit_weight_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Add the weight key: 1 to a training reply (user-level DP averages updates unweighted);
    the example count to an evaluation reply (its metrics stay example-weighted means)."""
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    record: MetricRecord = next(iter(reply.content.metric_records.values()))
    train = msg.metadata.message_type == MessageType.TRAIN
    record[UNIT_WEIGHT_KEY] = 1 if train else record.get("num-examples", 1)
    return reply


def privacy_client_mods(cfg: Config) -> list[Mod]:
    """The mods of ``privacy.mode``, outermost first."""
    p = cfg.privacy
    if p.mode == "record":
        from fedsim.privacy.record_mod import record_dp_mod

        return [record_dp_mod]
    if p.mode != "user":
        return []
    if p.clipping_side == "server" or cfg.secagg.enabled:  # SecAgg+ clips in its own mods
        return [unit_weight_mod]
    clip = adaptiveclipping_mod if p.adaptive_clipping else fixedclipping_mod
    return [train_only(clip), unit_weight_mod]
