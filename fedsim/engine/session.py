"""One federated run on a given Grid, start to finish, readable top to bottom.

1. write config.toml and manifest.json  2. build data, task, initial model, strategy
3. strategy.start(): each round the central dev evaluation records the round
4. final dev/test evaluation, weights.safetensors, summary.json  5. report.md
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from flwr.app import ArrayRecord, ConfigRecord, MetricRecord
from flwr.serverapp import Grid

from fedsim.config import Config, config_to_toml
from fedsim.data import label_histogram, load_federated_data
from fedsim.engine.app_config import resolve_device
from fedsim.engine.recording import RecordingGrid
from fedsim.engine.seeding import seed_server
from fedsim.engine.strategies import build_strategy
from fedsim.errors import ConfigError
from fedsim.tasks import build_task
from fedsim.tasks.base import task_artifacts
from fedsim.tracking.manifest import build_manifest, now
from fedsim.tracking.rounds import RoundTracker
from fedsim.tracking.run_dir import write_json, write_text
from fedsim.tracking.weights import save_weights


class _DropExpected(logging.Filter):
    """Hide Flower warnings about settings fedsim chose on purpose."""

    EXPECTED = ("fraction_evaluate is set to 0.0",)

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in self.EXPECTED)


def quiet_flower() -> None:
    """Flower logs every round at INFO; fedsim shows a progress bar and writes records."""
    logger = logging.getLogger("flwr")
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _DropExpected) for f in logger.filters):
        logger.addFilter(_DropExpected())


def _write_partition(run_dir: Path, cfg: Config, data: Any) -> None:
    hist = label_histogram(data.train.y, data.partitions, data.num_classes)
    write_json(
        run_dir / "partition.json",
        {
            "partitioner": cfg.data.partitioner,
            "class_names": list(data.class_names),
            "histogram": hist.tolist(),
            "sizes": [int(len(p)) for p in data.partitions],
        },
    )


def check_federation_size(grid: Grid, cfg: Config) -> None:
    """Flower's strategies wait forever for missing nodes: refuse a size mismatch up front."""
    nodes = len(list(grid.get_node_ids()))
    if nodes != cfg.data.num_clients:
        raise ConfigError(
            "data.num_clients",
            f"{cfg.data.num_clients} clients configured but the federation has {nodes} nodes; "
            "make them equal (flwr run: --federation-config \"num-supernodes=N\")")


def serve(grid: Grid, cfg: Config, run_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Run the federation on `grid`, recording every round in `run_dir`; return the summary."""
    started = time.perf_counter()
    check_federation_size(grid, cfg)
    seed_server(cfg.run.seed)
    data = load_federated_data(cfg.data, cfg.run.seed)
    task = build_task(cfg, data)
    model = task.build_model().to(resolve_device(cfg.run.device))
    _write_partition(run_dir, cfg, data)
    recorder = RecordingGrid(grid)
    tracker = RoundTracker(run_dir, cfg.run.rounds, progress)
    latest: dict[str, ArrayRecord] = {}

    def central_evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        latest["arrays"] = arrays
        model.load_state_dict(arrays.to_torch_state_dict())
        dev = task.evaluate(model, data.dev)
        tracker.log_round(server_round, dev, recorder.take())
        return MetricRecord(dev)

    initial = ArrayRecord({k: v.detach().cpu() for k, v in model.state_dict().items()})
    try:
        build_strategy(cfg).start(
            recorder,
            initial,
            num_rounds=cfg.run.rounds,
            train_config=ConfigRecord(),
            evaluate_fn=central_evaluate,
        )
    finally:
        tracker.close()
    model.load_state_dict(latest["arrays"].to_torch_state_dict())
    sha = save_weights(model.state_dict(), run_dir / "weights.safetensors")
    final = {"dev": task.evaluate(model, data.dev), "test": task.evaluate(model, data.test)}
    if getattr(data, "heldout", None) is not None:  # clients never trained on (text corpora)
        final["heldout"] = task.evaluate(model, data.heldout)
    outputs = [vars(a) for a in task_artifacts(task, model, data, run_dir)]
    return {
        "task": cfg.task.name,
        "dataset": cfg.data.dataset,
        "strategy": cfg.strategy.name,
        "backend": cfg.run.backend,
        "rounds": cfg.run.rounds,
        "seed": cfg.run.seed,
        "num_clients": cfg.data.num_clients,
        "partitioner": cfg.data.partitioner,
        "final": final,
        "weights_sha256": sha,
        "wall_seconds": time.perf_counter() - started,
        "privacy": {
            "mode": cfg.privacy.mode,
            "epsilon": None,
            "delta": None,
            "per_client_epsilon_max": None,
        },
        "bytes": {"sent": tracker.sent, "received": tracker.received},
        "failures": tracker.failures,
        "artifacts": outputs,
    }


def execute(grid: Grid, cfg: Config, run_dir: Path) -> dict[str, Any]:
    """serve() plus the run records around it; a failed run is marked so in its manifest.

    The progress bar is on unless FEDSIM_NO_PROGRESS is set.
    """
    from fedsim.report import write_report  # report imports plotting; keep server start light

    quiet_flower()
    torch.set_num_threads(cfg.run.client_cpus)
    write_text(run_dir / "config.toml", config_to_toml(cfg))
    manifest = build_manifest(cfg.run.seed, cfg.run.backend)
    write_json(run_dir / "manifest.json", manifest)
    try:
        summary = serve(grid, cfg, run_dir, not os.environ.get("FEDSIM_NO_PROGRESS"))
    except BaseException as err:
        manifest.update(status="failed", error=f"{type(err).__name__}: {err}", finished_at=now())
        write_json(run_dir / "manifest.json", manifest)
        raise
    write_json(run_dir / "summary.json", summary)
    manifest.update(status="finished", finished_at=now())
    write_json(run_dir / "manifest.json", manifest)
    write_report(run_dir)
    return summary
