"""A private local Ray without the two head processes a fixed-size instance never uses.

`ray.init(address="local", include_dashboard=False)` still starts, on the head, a dashboard
API server (for the job and state APIs; `ray.init` waits until it answers) and the
autoscaler's monitor (for clusters that grow and shrink). fedsim's private instance has a
fixed size and uses neither, and on 2 CPUs the two Python processes cost ~2 s of CPU and
~1.4 s of `ray.init`'s ~4.6 s (benchmarks/startup.py; issue #9). Within `lean_local_start`
Ray's Node skips starting them; everything else (GCS, raylet, log monitor, agents,
workers) starts as usual. A joined cluster (run.ray_address) is never touched.

This reaches into Ray's private Node class, so it is tied to the Ray release pinned in
pyproject.toml: where those methods are missing, Ray starts as it would without this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SKIPPED = ("start_api_server", "start_monitor")  # Node methods, each starting one process


def _skip(self: Any, *args: Any, **kwargs: Any) -> None:
    return None


@contextmanager
def lean_local_start() -> Iterator[bool]:
    """Within the block a new local Ray starts without its dashboard API server and
    autoscaler monitor; yields whether it could arrange that (False: a plain start)."""
    try:
        from ray._private.node import Node
    except ImportError:
        yield False
        return
    saved = {name: Node.__dict__.get(name) for name in SKIPPED}
    if not all(callable(method) for method in saved.values()):
        yield False
        return
    for name in SKIPPED:
        setattr(Node, name, _skip)
    try:
        yield True
    finally:
        for name, method in saved.items():
            setattr(Node, name, method)
