"""The record-level DP session a client's training runs under, if any.

The DP mod (`fedsim.privacy.record_mod`) opens a session around the handler; `local_sgd`
asks `active_record_dp()` and, when one is open, lets the session train instead. Every task
that trains through `local_sgd` is thereby private without knowing it. A scoped ContextVar
(as torch's grad mode) rather than a parameter: the Task protocol stays unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_ACTIVE: ContextVar[Any] = ContextVar("fedsim_record_dp", default=None)


def active_record_dp() -> Any:
    """The open `RecordLevelDP` session, or None outside record-level DP training."""
    return _ACTIVE.get()


@contextmanager
def record_dp_session(session: Any) -> Iterator[Any]:
    """Open `session` for the code inside the block (nested sessions are refused)."""
    if _ACTIVE.get() is not None:
        raise RuntimeError("a record-level DP session is already open")
    token = _ACTIVE.set(session)
    try:
        yield session
    finally:
        _ACTIVE.reset(token)
