"""Fault injection (config section [faults]): clients that crash, straggle, send broken
updates, or lose their worker process, to test that a run survives them.

Which clients are faulty is a seeded choice per kind of fault, fixed for the whole run and
the same on every backend. Faults touch training messages only; a faulty client evaluates
normally. The injection is a Flower client mod (innermost, next to the handler).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message
from flwr.clientapp.typing import ClientAppCallable, Mod

from fedsim.config import Config, FaultsSection
from fedsim.engine.seeding import stream_seed

CRASH, STRAGGLE, CORRUPT = 101, 102, 103  # salts: one independent choice per fault kind
WORKER_ENV = "FEDSIM_RAY_WORKER"  # set in fedsim's Ray actors (fedsim.engine.ray_executor)
KILLED_PARTITION = 0


class InjectedFault(RuntimeError):
    """The exception a client configured to crash raises."""


def faulty_partitions(seed: int, num_clients: int, fraction: float, salt: int) -> frozenset[int]:
    """round(fraction x num_clients) partition ids, chosen with a stream of (seed, salt)."""
    count = min(num_clients, math.floor(fraction * num_clients + 0.5))
    rng = np.random.default_rng(stream_seed(seed, salt))
    return frozenset(int(p) for p in rng.choice(num_clients, size=count, replace=False))


@dataclass(frozen=True)
class FaultPlan:
    """Which partitions crash, straggle or corrupt their update, and how."""

    crash: frozenset[int]
    straggle: frozenset[int]
    corrupt: frozenset[int]
    faults: FaultsSection

    @classmethod
    def of(cls, cfg: Config) -> FaultPlan:
        """The plan for `cfg` (seeded by run.seed)."""
        f, seed, n = cfg.faults, cfg.run.seed, cfg.data.num_clients
        return cls(
            faulty_partitions(seed, n, f.crash_fraction, CRASH),
            faulty_partitions(seed, n, f.straggler_fraction, STRAGGLE),
            faulty_partitions(seed, n, f.corrupt_fraction, CORRUPT),
            f,
        )

    @property
    def active(self) -> bool:
        """Whether any fault is configured."""
        return bool(self.crash or self.straggle or self.corrupt or self.faults.kill_worker_round)


def corrupt_arrays(arrays: ArrayRecord, kind: str) -> ArrayRecord:
    """A broken copy of `arrays`: NaN/Inf values, a wrong shape or dtype, or a huge norm."""
    values = {name: array.numpy().copy() for name, array in arrays.items()}
    first = next(iter(values))
    if kind in ("nan", "inf"):
        for value in values.values():
            if value.dtype.kind == "f":
                value.fill(np.nan if kind == "nan" else np.inf)
    elif kind == "shape":
        values[first] = values[first].ravel()[:-1]
    elif kind == "dtype":
        values[first] = values[first].astype(np.int64)
    elif kind == "huge":
        values = {name: value * 1e6 for name, value in values.items()}
    return ArrayRecord({name: Array(np.ascontiguousarray(v)) for name, v in values.items()})


def _train_round(msg: Message) -> int | None:
    if msg.metadata.message_type != "train" or "config" not in msg.content.config_records:
        return None
    return int(msg.content["config"].get("server-round", 0))


def _fault_mod(plan: FaultPlan) -> Mod:
    def fault_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
        server_round = _train_round(msg)
        if server_round is None:
            return call_next(msg, context)
        pid = int(context.node_config["partition-id"])
        kill = plan.faults.kill_worker_round == server_round and pid == KILLED_PARTITION
        if kill and os.environ.get(WORKER_ENV):
            os._exit(1)  # a worker process lost mid-round (never the driver: env check)
        if pid in plan.crash:
            raise InjectedFault(f"injected crash of partition {pid} (faults.crash_fraction)")
        if pid in plan.straggle:
            time.sleep(plan.faults.straggler_delay)
        reply = call_next(msg, context)
        if pid in plan.corrupt and not reply.has_error() and "arrays" in reply.content:
            reply.content["arrays"] = corrupt_arrays(
                reply.content["arrays"], plan.faults.corrupt_kind
            )
        return reply

    return fault_mod


@lru_cache(maxsize=8)
def fault_mods(cfg: Config) -> list[Mod]:
    """The fault-injection mod for `cfg`, or none when no fault is configured."""
    plan = FaultPlan.of(cfg)
    return [_fault_mod(plan)] if plan.active else []
