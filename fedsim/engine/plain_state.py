"""Plain-data attributes of a server-side object (e.g. the privacy ledger's histories), as
tagged JSON that keeps int dict keys and tuples, for checkpoints; no pickle."""

from __future__ import annotations

from typing import Any


class NotPlain(TypeError):
    """The value holds something other than None, bool, int, float, str, list, tuple, dict."""


def encode(value: Any) -> Any:
    """`value` as tagged JSON (a NotPlain error when it is not plain data)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    raise NotPlain(type(value).__name__)


def decode(value: Any) -> Any:
    """Inverse of `encode`."""
    if not isinstance(value, dict):
        return value
    ((tag, items),) = value.items()
    if tag == "dict":
        return {decode(k): decode(v) for k, v in items}
    decoded = [decode(v) for v in items]
    return tuple(decoded) if tag == "tuple" else decoded


def capture_plain(obj: Any) -> dict[str, Any]:
    """Every plain-data attribute of `obj`, encoded."""
    state = {}
    for name, value in vars(obj).items():
        try:
            state[name] = encode(value)
        except NotPlain:
            continue
    return state


def restore_plain(obj: Any, state: dict[str, Any]) -> None:
    """Set the attributes `capture_plain` saved back on `obj`."""
    for name, value in state.items():
        setattr(obj, name, decode(value))
