"""Ray started in the background (fedsim.engine.ray_early) and without its unused head
processes (fedsim.engine.ray_lean): a fake `ray` module for the thread hand-over, the real
one for the processes."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from fedsim.engine import ray_early
from fedsim.engine.ray_lean import SKIPPED, lean_local_start


class FakeRay:
    """Records ray.init calls (and the thread that made them); fails when told to."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.inits: list[tuple[str, dict[str, Any]]] = []
        self.shutdowns = 0
        self.up = False

    def init(self, **kwargs: Any) -> None:
        self.inits.append((threading.current_thread().name, kwargs))
        if self.error is not None:
            raise self.error
        self.up = True

    def is_initialized(self) -> bool:
        return self.up

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.up = False


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRay]:
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    handler = signal.getsignal(signal.SIGTERM)
    yield fake
    ray_early.forget()
    signal.signal(signal.SIGTERM, handler)


def keeper() -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name == "ray-start"), None)


def test_background_start_is_handed_to_the_caller_and_its_thread_kept(fake_ray: FakeRay) -> None:
    ray_early.start_ray_soon(3, "")
    assert ray_early.wait() == ("local", 3)
    [(thread, kwargs)] = fake_ray.inits
    assert thread == "ray-start" and kwargs["address"] == "local" and kwargs["num_cpus"] == 3
    alive = keeper()
    assert alive is not None and alive.is_alive()  # Ray's processes die with this thread
    ray_early.forget()
    alive.join(timeout=5)
    assert not alive.is_alive()


def test_a_failed_background_start_raises_in_the_waiting_thread(fake_ray: FakeRay) -> None:
    fake_ray.error = RuntimeError("no room for the object store")
    ray_early.start_ray_soon(2, "")
    with pytest.raises(RuntimeError, match="no room for the object store"):
        ray_early.wait()
    assert ray_early.wait() is None  # nothing pending any more: start_ray starts Ray itself


def test_a_cluster_to_join_is_not_started_early(fake_ray: FakeRay) -> None:
    ray_early.start_ray_soon(2, "127.0.0.1:6379")
    ray_early.start_ray_soon(2, "not an address")  # validation names it later
    assert ray_early.wait() is None and fake_ray.inits == []


def test_a_start_no_run_took_is_stopped_at_exit(fake_ray: FakeRay) -> None:
    ray_early.start_ray_soon(2, "")
    ray_early._stop_untaken()
    assert fake_ray.shutdowns == 1 and ray_early.wait() is None


def test_a_taken_start_is_left_to_its_owner_at_exit(fake_ray: FakeRay) -> None:
    ray_early.start_ray_soon(2, "")
    ray_early.wait()
    ray_early._stop_untaken()
    assert fake_ray.shutdowns == 0


def test_lean_start_skips_the_head_processes_only_within_the_block() -> None:
    from ray._private.node import Node

    before = {name: Node.__dict__[name] for name in SKIPPED}
    with pytest.raises(KeyError), lean_local_start() as lean:
        assert lean and all(Node.__dict__[n] is not before[n] for n in SKIPPED)
        raise KeyError("a failed ray.init")
    assert {name: Node.__dict__[name] for name in SKIPPED} == before


def test_private_ray_runs_without_dashboard_server_and_autoscaler_monitor() -> None:
    import ray
    from ray._private import ray_constants

    from fedsim.engine import ray_executor

    ray_executor.start_ray(0)  # as a run with the default run.num_cpus: no restart
    node = ray._private.worker._global_node
    started = set(node.all_processes)
    assert ray_executor._STARTED is not None and ray_constants.PROCESS_TYPE_RAYLET in started
    assert not started & {ray_constants.PROCESS_TYPE_DASHBOARD, ray_constants.PROCESS_TYPE_MONITOR}
    assert ray.get(ray.put(41)) + 1 == 42


def test_shutdown_pool_stops_a_start_no_run_took(fake_ray: FakeRay,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from fedsim.engine import ray_executor

    monkeypatch.setattr(ray_executor, "_POOL", None)
    monkeypatch.setattr(ray_executor, "_STARTED", None)
    ray_early.start_ray_soon(2, "")
    ray_executor.shutdown_pool()  # e.g. the flower backend after a refused ray run
    assert fake_ray.shutdowns == 1 and ray_executor._STARTED is None
    assert ray_early.wait() is None  # the keeper was released after Ray stopped
