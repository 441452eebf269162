"""fedsim.engine.gc_pause: imports frozen once; what a run creates is still collected."""

from __future__ import annotations

import gc
import weakref

from fedsim.engine.gc_pause import freeze_long_lived


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_frozen_once_and_later_cycles_still_collected() -> None:
    frozen = freeze_long_lived()
    assert frozen > 0 and gc.get_freeze_count() == frozen
    assert freeze_long_lived() == frozen  # a second run freezes nothing more
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle only the collector can free
    alive = weakref.ref(a)
    del a, b
    gc.collect()
    assert alive() is None
