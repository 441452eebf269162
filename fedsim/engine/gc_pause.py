"""Keep Python's full garbage collections short.

A full (generation 2) collection scans every object the collector tracks. Once torch,
Flower and transformers are imported that is ~260k objects, ~190 ms on this machine, and
the pause lands in whichever round allocates the object that triggers it (benchmarks: one
214 ms round among 40 ms ones). Objects that live as long as the process (modules, classes,
functions, constants) never become garbage, so `freeze_long_lived` moves them once out of
the collector's sight (`gc.freeze`); everything created after it (each run's data, model,
messages) is collected exactly as before. Reference counting frees frozen objects too.
"""

from __future__ import annotations

import gc

_FROZEN = False


def freeze_long_lived() -> int:
    """Freeze what the process holds now, once per process (later calls do nothing); call
    after the heavy imports and before a run builds its objects. Returns the frozen count."""
    global _FROZEN
    if not _FROZEN:
        gc.freeze()  # no collection first: it would be the very pause this avoids
        _FROZEN = True
    return gc.get_freeze_count()
