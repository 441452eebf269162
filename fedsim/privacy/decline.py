"""A client that declines to train (its privacy budget is spent) answers with an Error reply.

Why an Error and not an empty update: Flower's FedAvg divides by the sum of the replies'
weights, so a round in which every sampled client sent weight 0 would divide by zero;
error replies are dropped by every Flower strategy, and a round of declines leaves the model
as it was. The reason starts with DECLINED so the server records a decline, not a failure.
"""

from __future__ import annotations

from flwr.app import Error, Message
from flwr.common.constant import ErrorCode

DECLINED = "declined: "


def decline_reply(message: Message, reason: str) -> Message:
    """The reply of a client that will not train on `message`, saying why."""
    error = Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=DECLINED + reason)
    return Message(error, reply_to=message)


def is_decline(reason: str | None) -> bool:
    """Whether an Error reply's reason is a decline (see `decline_reply`)."""
    return bool(reason) and str(reason).startswith(DECLINED)
