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

from fedsim.attacks.after_run import attack_finished_run, update_capture
from fedsim.attacks.backdoor import attack_metrics
from fedsim.attacks.summary import attack_summary
from fedsim.config import Config, config_to_toml
from fedsim.data import label_histogram, load_federated_data
from fedsim.data.overlap import split_overlap
from fedsim.engine.app_config import resolve_device
from fedsim.engine.ensemble_model import global_model
from fedsim.engine.fast_arrays import install as install_fast_arrays
from fedsim.engine.gc_tuning import fewer_collections
from fedsim.engine.recording import RecordingGrid
from fedsim.engine.resume import ResumePlan, resumed_manifest
from fedsim.engine.seeding import seed_server
from fedsim.engine.server_threads import evaluation_threads
from fedsim.engine.strategies import build_strategy
from fedsim.errors import ConfigError
from fedsim.privacy.ledger import PrivacyLedger
from fedsim.privacy.models import build_model
from fedsim.privacy.secagg import run_secagg
from fedsim.privacy.secagg_records import SecAggRecorder, secagg_entries
from fedsim.tasks import build_task
from fedsim.tasks.base import task_artifacts, task_round_metrics
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


def client_timeout(cfg: Config) -> float:
    """Seconds the grid waits for a client's reply (run.client_timeout; 0 = a year)."""
    return cfg.run.client_timeout or 365 * 86400.0


def serve(grid: Grid, cfg: Config, run_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Run the federation on `grid`, recording every round in `run_dir`; return the summary."""
    started = time.perf_counter()
    install_fast_arrays()  # Flower's Array <-> NumPy, header parsing cached
    check_federation_size(grid, cfg)
    seed_server(cfg.run.seed)
    data = load_federated_data(cfg.data, cfg.run.seed)
    task = build_task(cfg, data)
    model = build_model(task, cfg).to(resolve_device(cfg.run.device))
    template = model  # ensemble strategies: the global model is an ensemble of copies
    _write_partition(run_dir, cfg, data)
    recording = SecAggRecorder if cfg.secagg.enabled else RecordingGrid
    recorder = recording(grid, cfg.strategy.max_update_norm, cfg.run.min_replies,
                         capture=update_capture(cfg, run_dir))
    plan = ResumePlan.open(cfg, run_dir)  # a checkpoint in run_dir: `fedsim resume`
    started -= plan.earlier_seconds
    tracker = RoundTracker(run_dir, cfg.run.rounds, progress)
    tracker.skip(plan.offset)
    ledger = PrivacyLedger(cfg, data)  # epsilon per round, DP wrapper, summary["privacy"]
    latest: dict[str, ArrayRecord] = {}
    strategy = None

    def central_evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        nonlocal model
        server_round += plan.offset  # a resumed run's loop counts from its checkpoint
        latest["arrays"] = arrays
        if plan.restore_once(server_round, strategy, grid, tracker, ledger):
            return MetricRecord()  # round `offset` was evaluated and recorded before
        evaluating = time.perf_counter()
        model = global_model(template, arrays.to_torch_state_dict(), cfg.task.name)
        with evaluation_threads(cfg):  # the clients wait meanwhile: every core evaluates
            dev = {**task.evaluate(model, data.dev), **attack_metrics(cfg, model, data.dev)}
            dev.update(task_round_metrics(task, model, server_round, run_dir, tracker.writer))
        log = recorder.take()
        timing = {"eval_seconds": time.perf_counter() - evaluating}  # server-side dev eval
        tracker.log_round(server_round, dev, log, {**ledger.observe(server_round, log), **timing})
        if plan.due(server_round):
            plan.save(server_round, arrays, strategy, grid, tracker, ledger)
        return MetricRecord(dev)

    initial = ArrayRecord({k: v.detach().cpu() for k, v in model.state_dict().items()})
    try:
        if cfg.secagg.enabled:  # Flower's SecAgg+ exists only on its legacy path
            run_secagg(recorder, cfg, initial, central_evaluate, data.partitions)
        else:
            strategy = ledger.wrap(build_strategy(cfg))
            plan.strategy(strategy).start(
                recorder,
                plan.initial_arrays(initial),
                # fewer when a user-level DP budget ends first, or a resumed run did some
                num_rounds=ledger.rounds_to_run - plan.offset,
                timeout=client_timeout(cfg),
                train_config=ConfigRecord(),
                evaluate_fn=central_evaluate,
            )
    finally:
        tracker.close()
    model = global_model(template, latest["arrays"].to_torch_state_dict(), cfg.task.name)
    sha = save_weights(model.state_dict(), run_dir / "weights.safetensors")
    with evaluation_threads(cfg):
        final = {split: {**task.evaluate(model, part), **attack_metrics(cfg, model, part)}
                 for split, part in (("dev", data.dev), ("test", data.test))}
        if getattr(data, "heldout", None) is not None:  # clients never trained on (corpora)
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
        "privacy": ledger.summary(),
        "bytes": {"sent": tracker.sent, "received": tracker.received},
        "overlap": split_overlap(data),  # rows shared by splits (hash of inputs)
        "attack": attack_summary(cfg),
        "failures": tracker.failures,
        "failed_clients": tracker.failed_clients,  # partition id -> failed replies
        "artifacts": outputs,
        **secagg_entries(cfg, recorder, data.partitions),  # "secagg" when it is on
    }


def execute(grid: Grid, cfg: Config, run_dir: Path) -> dict[str, Any]:
    """serve() plus the run records around it; a failed run is marked so in its manifest.

    The progress bar is on unless FEDSIM_NO_PROGRESS is set.
    """
    quiet_flower()
    torch.set_num_threads(cfg.run.client_cpus)
    manifest = resumed_manifest(run_dir)  # `fedsim resume`: the run's own, with the restart
    if manifest is None:
        write_text(run_dir / "config.toml", config_to_toml(cfg))
        manifest = build_manifest(cfg.run.seed, cfg.run.backend)
    write_json(run_dir / "manifest.json", manifest)
    try:
        with fewer_collections():  # a full collection is ~190 ms (fedsim.engine.gc_tuning)
            summary = serve(grid, cfg, run_dir, not os.environ.get("FEDSIM_NO_PROGRESS"))
    except BaseException as err:
        manifest.update(status="failed", error=f"{type(err).__name__}: {err}", finished_at=now())
        write_json(run_dir / "manifest.json", manifest)
        raise
    write_json(run_dir / "summary.json", summary)
    summary = attack_finished_run(cfg, run_dir, summary)  # [attack] mia = true
    manifest.update(status="finished", finished_at=now())
    write_json(run_dir / "manifest.json", manifest)
    # imported only now: it loads matplotlib (~0.4 s), which round 1 should not wait for
    from fedsim.report import write_report

    write_report(run_dir)
    return summary
