"""The client mod of record-level DP: a DP-SGD session around training, the accountant's
state in Context.state, a decline when the budget is spent, epsilon in the reply metrics.

Reply metrics (identical keys for every client, as Flower's strategies require):
``dp-epsilon`` (this client's epsilon after the round), ``dp-noise-multiplier``,
``dp-sample-rate``, ``dp-steps`` (this round) and ``dp-total-steps``.
"""

from __future__ import annotations

from flwr.app import Context, Message, MessageType, MetricRecord
from flwr.app import Error as FlowerError
from flwr.clientapp.typing import ClientAppCallable
from flwr.common.constant import ErrorCode

from fedsim.engine.app_config import config_from_context
from fedsim.privacy.active import record_dp_session
from fedsim.privacy.decline import decline_reply
from fedsim.privacy.record import (
    BudgetSpent,
    RecordDPUnsupported,
    RecordLevelDP,
    load_history,
    save_history,
)


def _error(message: Message, reason: str) -> Message:
    error = FlowerError(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason)
    return Message(error, reply_to=message)


def record_dp_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Train under DP-SGD (train messages only); other messages pass through."""
    if msg.metadata.message_type != MessageType.TRAIN:
        return call_next(msg, context)
    history, noise = load_history(context.state)
    session = RecordLevelDP(config_from_context(context), history, noise)
    try:
        with record_dp_session(session):
            reply = call_next(msg, context)
    except BudgetSpent as err:
        return decline_reply(msg, str(err))
    except RecordDPUnsupported as err:
        return _error(msg, f"record-level DP: {err}")
    if reply.has_error():
        return reply
    if session.segment is None or session.noise is None:
        return _error(msg, "record-level DP: the task trained outside local_sgd, so DP-SGD "
                      "did not protect it; its update is withheld")
    history = [*history, session.segment]
    save_history(context.state, history, session.noise)
    _add_metrics(reply, session, history)
    return reply


def _add_metrics(reply: Message, session: RecordLevelDP, history: list) -> None:
    noise, rate, steps = session.segment  # type: ignore[misc]
    record: MetricRecord = next(iter(reply.content.metric_records.values()))
    record["dp-epsilon"] = session.spent([session.segment])  # history before + this round
    record["dp-noise-multiplier"] = noise
    record["dp-sample-rate"] = rate
    record["dp-steps"] = steps
    record["dp-total-steps"] = sum(s for _, _, s in history)
