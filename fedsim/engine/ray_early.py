"""Start a private local Ray in the background while the rest of `fedsim run` starts.

`ray.init` of a private instance takes ~4.5 s here, most of it waiting for the processes it
spawns (GCS, raylet, the dashboard head and agents); before it needs Ray, `fedsim run`
spends ~2 s importing torch, Flower and transformers and preparing the data. `start_ray_soon`
runs `ray.init` on a keeper thread so that the two overlap; `fedsim.engine.ray_executor.
start_ray` then waits for it (`wait`) and raises its error, if any, in the main thread.

The keeper thread does not end while Ray is up: Ray ties the processes it spawns to the
life of the *thread* that spawned them (Linux PR_SET_PDEATHSIG), so a thread that returned
after `ray.init` would take GCS and the raylet down with it. It is a daemon thread, so the
process still exits, and Ray's processes end with it, as with a `ray.init` in the main thread.
"""

from __future__ import annotations

import atexit
import logging
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from fedsim.engine.ray_address import init_kwargs, local_target, resolve_ray_address
from fedsim.engine.ray_lean import lean_local_start
from fedsim.errors import ConfigError
from fedsim.quiet import quiet_environment

_MAIN_THREAD_ONLY = "SIGTERM handler is not set"  # Ray's warning when not in the main thread


@dataclass
class _Start:
    """One background `ray.init(**kwargs)`: done when `ready` is set, `error` if it failed."""

    target: tuple[str, int]  # (address, num_cpus), as ray_executor's _STARTED
    kwargs: dict[str, Any]
    taken: bool = False  # start_ray took it over (and stops it: ray_executor.shutdown_pool)
    ready: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_PENDING: _Start | None = None


class _DropMainThreadWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _MAIN_THREAD_ONLY not in record.getMessage()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(signum)  # as Ray's own handler: atexit hooks (Ray's shutdown) still run


def _keep(start: _Start) -> None:
    try:
        import ray  # imported by start_ray_soon; its atexit shutdown must run after ours

        atexit.unregister(_stop_untaken)
        atexit.register(_stop_untaken)
        with lean_local_start():
            ray.init(**start.kwargs)
    except BaseException as err:  # noqa: BLE001 - handed to the main thread by wait()
        start.error = err
    start.ready.set()
    start.release.wait()  # Ray's processes live as long as this thread (see module doc)


def start_ray_soon(num_cpus: int, address: str = "") -> None:
    """Begin starting the private local Ray that `start_ray(num_cpus, address)` would start,
    on a keeper thread; nothing when `address` names a cluster to join (that is quick), is
    not valid (the run's validation says so), or Ray is starting or up already.

    Call from the main thread: it installs the SIGTERM handler `ray.init` installs there.
    """
    global _PENDING
    try:
        if resolve_ray_address(address):
            return
    except ConfigError:
        return
    if _PENDING is not None or ("ray" in sys.modules and sys.modules["ray"].is_initialized()):
        return
    quiet_environment()
    # `import ray` here, not on the keeper thread: there it shares the GIL with the main
    # thread's imports (torch, Flower) and took ~1.4 s instead of ~0.35 s, so `ray.init`
    # began ~0.9 s later (fedsim run waits for Ray, not for its own imports: docs/design-notes).
    import ray  # noqa: F401

    target = local_target(num_cpus)
    logging.getLogger("ray._private.worker").addFilter(_DropMainThreadWarning())
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _PENDING = _Start(target, init_kwargs(target[1], ""))
    threading.Thread(target=_keep, args=(_PENDING,), name="ray-start", daemon=True).start()
    atexit.unregister(_stop_untaken)  # once, however many runs started Ray early
    atexit.register(_stop_untaken)


def wait() -> tuple[str, int] | None:
    """The target of a background start, once it has finished (its error raised here, in
    the caller's thread); None when none is pending."""
    start = _PENDING
    if start is None:
        return None
    start.ready.wait()
    if start.error is not None:
        forget()
        raise start.error
    start.taken = True
    return start.target


def _stop_untaken() -> None:
    """At exit, a Ray started for a run that never took it (its config was refused): let
    it finish starting, then stop it the way Ray stops, leaving no process behind."""
    start = _PENDING
    if start is None or start.taken:
        return
    start.ready.wait(timeout=120)
    if start.ready.is_set() and start.error is None:
        import ray

        ray.shutdown()
    forget()


def forget() -> None:
    """Let the keeper thread end (after `ray.shutdown()`, or after its start failed)."""
    global _PENDING
    if _PENDING is not None:
        _PENDING.release.set()
        _PENDING = None
