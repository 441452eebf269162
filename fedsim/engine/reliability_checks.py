"""Config checks for the reliability keys: faults, min_replies, checkpoints."""

from __future__ import annotations

from fedsim.config import Config
from fedsim.errors import IncompatibleOptionsError


def check_reliability(cfg: Config) -> None:
    """Refuse fault, reply-quorum and checkpoint settings that cannot work together."""
    if cfg.faults.kill_worker_round and cfg.run.backend != "ray":
        raise IncompatibleOptionsError(
            "faults.kill_worker_round",
            f"kills a Ray worker process; with run.backend = {cfg.run.backend!r} it would kill "
            "the run itself; allowed: 0, or run.backend = 'ray'",
        )
    sampled = cfg.strategy.clients_per_round or cfg.data.num_clients
    if cfg.run.min_replies > sampled:
        raise IncompatibleOptionsError(
            "run.min_replies",
            f"{cfg.run.min_replies} is more than the {sampled} clients sampled per round; "
            f"allowed: 1 to {sampled}",
        )
    if cfg.run.checkpoint_every and cfg.secagg.enabled:
        raise IncompatibleOptionsError(
            "run.checkpoint_every",
            "SecAgg+ runs Flower's legacy workflow, whose round loop fedsim cannot resume; "
            "use 0 with secagg.enabled = true",
        )
    if cfg.run.checkpoint_every and cfg.run.backend == "flower":
        raise IncompatibleOptionsError(
            "run.checkpoint_every",
            "Flower's own runtime keeps client state out of fedsim's reach, so a checkpoint "
            "could not be resumed exactly; use run.backend = 'inline' or 'ray', or 0",
        )
