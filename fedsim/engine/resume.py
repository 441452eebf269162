"""Checkpoint every k rounds, and resume a run exactly where its last checkpoint left it.

Flower's `strategy.start` runs its own round loop from round 1, so a resumed run starts the
strategy for the remaining rounds and shifts round numbers by the checkpointed round:
`RoundOffsetStrategy` hands the strategy the true round (messages carry it as
"server-round"; FedAdam's bias correction uses it), and the evaluation hook adds the
offset. At the resumed loop's round 0 the strategy state, every node's Context.state and
the global RNGs are put back, at the very point of the uninterrupted run where they were
saved: after round k's central evaluation, before round k+1 samples its clients.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flwr.app import Array, ArrayRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from fedsim.config import Config
from fedsim.engine.plain_state import capture_plain, restore_plain
from fedsim.engine.strategy_state import (
    capture_strategy,
    record_bytes,
    record_of,
    restore_strategy,
)
from fedsim.errors import DataError
from fedsim.tracking.checkpoint import (
    Checkpoint,
    capture_rng,
    checkpoint_path,
    read_checkpoint,
    restore_rng,
    write_checkpoint,
)
from fedsim.tracking.run_dir import write_text


class RoundOffsetStrategy(Strategy):
    """Runs `inner` with round numbers shifted by `offset` (wraps, does not subclass).

    Strategies read the round: it goes into "server-round" of every message (clients seed
    their batches with it) and into FedAdam/FedYogi's bias correction. Flower's `start`
    counts from 1, so a resumed loop's round r is the run's round r + offset.
    """

    def __init__(self, inner: Strategy, offset: int) -> None:
        self.inner = inner
        self.offset = offset

    def configure_train(self, server_round, arrays, config, grid):  # type: ignore[no-untyped-def]
        return self.inner.configure_train(server_round + self.offset, arrays, config, grid)

    def aggregate_train(self, server_round, replies):  # type: ignore[no-untyped-def]
        return self.inner.aggregate_train(server_round + self.offset, replies)

    def configure_evaluate(self, server_round, arrays, config, grid):  # type: ignore[no-untyped-def]
        return self.inner.configure_evaluate(server_round + self.offset, arrays, config, grid)

    def aggregate_evaluate(self, server_round, replies):  # type: ignore[no-untyped-def]
        return self.inner.aggregate_evaluate(server_round + self.offset, replies)

    def summary(self) -> None:
        self.inner.summary()


def truncate_rounds(run_dir: Path, last_round: int) -> list[dict[str, Any]]:
    """Keep metrics.jsonl rows up to `last_round` (later ones, or a half-written line left
    by a killed process, are dropped); returns the kept rows."""
    path = run_dir / "metrics.jsonl"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("round"), int):
            rows.append(row)
    kept = [row for row in rows if row["round"] <= last_round]
    if [row["round"] for row in kept] != list(range(last_round + 1)):
        raise DataError(f"{path}: rounds 0..{last_round} are not all there to resume from")
    write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in kept))
    return kept


@dataclass
class ResumePlan:
    """Where a run (re)starts: round `offset`, from `checkpoint` (None for a fresh run)."""

    cfg: Config
    run_dir: Path
    checkpoint: Checkpoint | None = None
    _restored: bool = False

    @classmethod
    def open(cls, cfg: Config, run_dir: Path) -> ResumePlan:
        """A fresh run, or, when `run_dir` holds a checkpoint, the run resumed from it (its
        metrics.jsonl cut back to the checkpointed round)."""
        if not checkpoint_path(run_dir).exists():
            return cls(cfg, run_dir)
        checkpoint = read_checkpoint(run_dir)
        truncate_rounds(run_dir, int(checkpoint.meta["round"]))
        return cls(cfg, run_dir, checkpoint)

    @property
    def offset(self) -> int:
        """Rounds already done."""
        return 0 if self.checkpoint is None else int(self.checkpoint.meta["round"])

    @property
    def earlier_seconds(self) -> float:
        """Wall time the run spent before the checkpoint."""
        if self.checkpoint is None:
            return 0.0
        return float(self.checkpoint.meta["tracker"]["wall_seconds"])

    def strategy(self, strategy: Strategy) -> Strategy:
        """`strategy`, seeing the run's true round numbers when resuming."""
        return RoundOffsetStrategy(strategy, self.offset) if self.offset else strategy

    def initial_arrays(self, fresh: ArrayRecord) -> ArrayRecord:
        """The global model to start from: `fresh`, or the checkpointed one."""
        if self.checkpoint is None:
            return fresh
        names = self.checkpoint.meta["model"]
        stored = self.checkpoint.arrays
        return ArrayRecord({k: Array(stored[f"model/{i}"]) for i, k in enumerate(names)})

    def restore_once(self, server_round: int, strategy: Strategy, grid: Grid, tracker: Any,
                     ledger: Any) -> bool:
        """At the resumed loop's first evaluation (round `offset`), put strategy state, node
        states, record totals, the ledger and the RNGs back; True if it did."""
        if self.checkpoint is None or self._restored or server_round != self.offset:
            return False
        self._restored = True
        meta, arrays = self.checkpoint.meta, self.checkpoint.arrays
        restore_strategy(strategy, meta["strategy"], arrays)
        restore_plain(ledger, meta["ledger"])
        if hasattr(grid, "restore_node_states"):
            grid.restore_node_states(
                {int(n): record_of(arrays[f"nodes/{n}"]) for n in meta["nodes"]}
            )
        tracker.restore(meta["tracker"])
        restore_rng(self.checkpoint)
        return True

    def due(self, server_round: int) -> bool:
        """Whether round `server_round` ends with a checkpoint."""
        every = self.cfg.run.checkpoint_every
        return bool(every) and server_round > 0 and server_round % every == 0

    def save(self, server_round: int, arrays: ArrayRecord, strategy: Strategy, grid: Grid,
             tracker: Any, ledger: Any) -> None:
        """Write the checkpoint of the run as it is after round `server_round`."""
        checkpoint = Checkpoint()
        checkpoint.arrays.update(
            {f"model/{i}": a.numpy() for i, a in enumerate(arrays.values())}
        )
        specs, strategy_arrays = capture_strategy(strategy)
        checkpoint.arrays.update(strategy_arrays)
        states = grid.node_states() if hasattr(grid, "node_states") else {}
        checkpoint.arrays.update({f"nodes/{n}": record_bytes(s) for n, s in states.items()})
        checkpoint.meta.update(
            round=server_round,
            model=list(arrays.keys()),
            strategy=specs,
            nodes=sorted(states),
            tracker=tracker.state(),
            ledger=capture_plain(ledger),
        )
        capture_rng(checkpoint)  # last: nothing after this may draw random numbers
        write_checkpoint(self.run_dir, checkpoint)


def resumed_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of the run being resumed in `run_dir`, with this restart appended to its
    ``resumed`` list; None for a fresh run (no checkpoint)."""
    from fedsim.tracking.manifest import now

    path = run_dir / "manifest.json"
    if not checkpoint_path(run_dir).exists() or not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable manifest ({err})") from None
    restart = {"at": now(), "from_round": int(read_checkpoint(run_dir).meta["round"])}
    manifest["resumed"] = [*manifest.get("resumed", []), restart]
    manifest.update(status="running", error=None, finished_at=None)
    return manifest
