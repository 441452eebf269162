"""Per-round records: metrics.jsonl lines, TensorBoard scalars and the progress bar."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from fedsim.engine.recording import RoundLog
from fedsim.weighted import weighted_means


def weighted_mean(entries: list[dict[str, Any]], stage: str) -> dict[str, float] | None:
    """Example-weighted mean of every metric all clients of one stage reported."""
    return weighted_means([e for e in entries if e["stage"] == stage], "num_examples")


class RoundTracker:
    """Writes one metrics.jsonl line and TensorBoard scalars per round; drives a progress bar."""

    def __init__(self, run_dir: Path, rounds: int, progress: bool = True) -> None:
        self._jsonl = (run_dir / "metrics.jsonl").open("a", encoding="utf-8")
        self._tb = SummaryWriter(log_dir=str(run_dir / "tb"))
        self._bar = tqdm(
            total=rounds,
            desc="rounds",
            unit="round",
            disable=not progress,
            leave=False,
            dynamic_ncols=True,
        )
        self._start = self._last = time.perf_counter()
        self.sent = self.received = self.failures = 0
        self.failed_clients: dict[str, int] = {}  # partition id -> failed replies

    def log_round(
        self, server_round: int, dev: dict[str, float], log: RoundLog,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record round `server_round` (0 = the initial model) and return its row; `extra`
        fields (e.g. ``privacy``) are added to the row as they are."""
        now = time.perf_counter()
        row: dict[str, Any] = {"round": server_round, "wall_seconds": now - self._start, "dev": dev}
        if server_round > 0:
            row.update(
                round_seconds=now - self._last,
                train=weighted_mean(log.clients, "train"),
                federated_eval=weighted_mean(log.clients, "evaluate"),
                clients=log.clients,
                failures=log.failures,
                bytes={"sent": log.sent, "received": log.received},
            )
            self.sent, self.received = self.sent + log.sent, self.received + log.received
            self.failures += len(log.failures)
            for failure in log.failures:
                key = str(failure.get("partition_id", failure.get("node_id")))
                self.failed_clients[key] = self.failed_clients.get(key, 0) + 1
        row.update(extra or {})
        self._last = now
        self._jsonl.write(json.dumps(row, sort_keys=True) + "\n")
        self._jsonl.flush()
        self._scalars(row)
        if server_round > 0:
            self._bar.update(1)
            self._bar.set_postfix({f"dev_{k}": f"{v:.4f}" for k, v in dev.items()})
        return row

    def _scalars(self, row: dict[str, Any]) -> None:
        step = row["round"]
        for key, value in row["dev"].items():
            self._tb.add_scalar(f"dev/{key}", value, step)
        for section in ("train", "federated_eval"):
            for key, value in (row.get(section) or {}).items():
                self._tb.add_scalar(f"{section}/{key}", value, step)
        if "bytes" in row:
            self._tb.add_scalar("bytes/sent", row["bytes"]["sent"], step)
            self._tb.add_scalar("bytes/received", row["bytes"]["received"], step)
        if "failures" in row:
            self._tb.add_scalar("clients/failures", len(row["failures"]), step)

    def state(self) -> dict[str, Any]:
        """Totals so far and the elapsed time, for a checkpoint."""
        return {
            "sent": self.sent, "received": self.received, "failures": self.failures,
            "failed_clients": dict(self.failed_clients),
            "wall_seconds": time.perf_counter() - self._start,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's `state()`: totals, wall clock and progress bar."""
        self.sent, self.received = int(state["sent"]), int(state["received"])
        self.failures = int(state["failures"])
        self.failed_clients = {str(k): int(v) for k, v in state["failed_clients"].items()}
        self._start = time.perf_counter() - float(state["wall_seconds"])

    def skip(self, rounds: int) -> None:
        """Count `rounds` already done (a resumed run) on the progress bar."""
        self._bar.update(rounds)

    @property
    def writer(self) -> SummaryWriter:
        """The run's TensorBoard writer (tasks add images to it)."""
        return self._tb

    def close(self) -> None:
        """Flush and close every writer."""
        self._bar.close()
        self._tb.close()
        self._jsonl.close()
