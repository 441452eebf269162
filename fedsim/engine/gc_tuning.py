"""Fewer Python garbage collections while a federation runs (issue #9).

CPython collects its youngest generation every 700 net allocations of container objects. A
round's messages, records and metrics outlive several of those collections and are
promoted; every few rounds the promoted ones trigger a full collection, which scans every
object torch, Flower and transformers keep alive (~260k): ~190 ms on the 2-core machine,
landing in whichever round, or client handler, triggers it. At 100 clients a round that was
~23 ms of collection a round on average (docs/design-notes.md).

Reference counting frees nearly all of a round's objects the moment they are unused; the
collector is only needed for reference cycles. Raising the youngest generation's threshold
to `GEN0_THRESHOLD` lets a round's temporaries die before any collection sees them, so far
fewer are promoted and full collections become rare; cycles are collected as before, a
little later. The driver does this for the federation only (`fewer_collections`, restored
after); Ray actors, which exist only to run clients, for their whole life
(`fewer_collections_for_process`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GEN0_THRESHOLD = 20_000


def fewer_collections_for_process() -> None:
    """Raise the youngest generation's threshold to GEN0_THRESHOLD (never lower it)."""
    first, *older = gc.get_threshold()
    gc.set_threshold(max(first, GEN0_THRESHOLD), *older)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """`fewer_collections_for_process` for the block; the thresholds before it restored."""
    before = gc.get_threshold()
    fewer_collections_for_process()
    try:
        yield
    finally:
        gc.set_threshold(*before)
