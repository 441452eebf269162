"""What a SecAgg+ run records: one entry per client per round (its four exchanges merged),
and summary.json's "secagg" (protocol parameters, the worst round's quantization bound)."""

from __future__ import annotations

from typing import Any

from fedsim.config import Config
from fedsim.engine.recording import RecordingGrid, RoundLog
from fedsim.privacy.secagg import max_weight
from fedsim.privacy.secagg_rules import MODULUS_RANGE, quantization_error_bound


def merge_stages(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per client and stage: SecAgg+'s four exchanges of a node become its
    training entry (the one with metrics), carrying the bytes of all four."""
    merged: dict[tuple[int, str], dict[str, Any]] = {}
    traffic: dict[tuple[int, str], tuple[int, int]] = {}
    for entry in entries:
        key = (entry["node_id"], entry["stage"])
        up, down = traffic.get(key, (0, 0))
        traffic[key] = (up + entry["bytes_up"], down + entry["bytes_down"])
        if "num_examples" in entry:
            merged[key] = dict(entry)
    for key, entry in merged.items():
        entry["bytes_up"], entry["bytes_down"] = traffic[key]
    return list(merged.values())


class SecAggRecorder(RecordingGrid):
    """A RecordingGrid whose round log has one entry per client (stages merged), and that
    keeps each round's training weights for the quantization error bound."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round_weights: list[list[float]] = []

    def take(self) -> RoundLog:
        """The round's log, SecAgg+ stages merged per client."""
        log = super().take()
        log.clients = merge_stages(log.clients)
        weights = [float(e["num_examples"]) for e in log.clients if e["stage"] == "train"]
        if weights:
            self.round_weights.append(weights)
        return log


def secagg_summary(cfg: Config, recorder: RecordingGrid, weight: float) -> dict[str, Any]:
    """summary.json["secagg"]: protocol parameters and the worst round's error bound."""
    s, uniform = cfg.secagg, cfg.privacy.mode == "user"
    bounds = [
        quantization_error_bound(s.clipping_range, s.quantization_range, weight,
                                 [1.0] * len(w) if uniform else w)
        for w in getattr(recorder, "round_weights", [])  # a SecAggRecorder's
    ]
    return {
        "enabled": True,
        "num_shares": s.num_shares,
        "reconstruction_threshold": s.reconstruction_threshold,
        "clipping_range": s.clipping_range,
        "quantization_range": s.quantization_range,
        "modulus_range": MODULUS_RANGE,
        "max_weight": weight,
        "quantization_error_bound": max(bounds) if bounds else None,
        "bound_formula": "3 c m / sum_i round(n_i Q / W) per parameter per round",
    }


def secagg_entries(cfg: Config, recorder: RecordingGrid, partitions: list) -> dict[str, Any]:
    """What a SecAgg+ run adds to summary.json ("secagg"); nothing when SecAgg+ is off.
    Epsilon is the privacy ledger's, as on the Message-API path."""
    if not cfg.secagg.enabled:
        return {}
    weight = max_weight(cfg, [len(p) for p in partitions])
    return {"secagg": secagg_summary(cfg, recorder, weight)}
