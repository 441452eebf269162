"""The three ways to run the same ServerApp and ClientApp: inline, ray, flower."""

from __future__ import annotations

import os
from collections.abc import Callable

from flwr.app import Context, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID

from fedsim.config import Config
from fedsim.engine.app_config import ENV_CONFIG, ENV_RUN_DIR
from fedsim.engine.executors import Executor, InlineExecutor
from fedsim.engine.grid import DirectGrid
from fedsim.engine.ray_executor import shutdown_pool
from fedsim.quiet import quiet_environment
from fedsim.registry import Registry

Backend = Callable[[Config, dict], None]
BACKENDS: Registry[Backend] = Registry("backend", "run.backend")


def _serve_on(executor: Executor, cfg: Config, run_config: dict) -> None:
    from server.app import app as server_app

    grid = DirectGrid(executor, cfg.data.num_clients)
    context = Context(
        run_id=1,
        node_id=SUPERLINK_NODE_ID,
        node_config={},
        state=RecordDict(),
        run_config=run_config,
    )
    try:
        server_app(grid, context)
    finally:
        executor.close()


def connect(cfg: Config) -> None:
    """Join the Ray cluster of run.ray_address now, before the run directory exists, so that
    one that cannot be joined is refused with nothing written (a private Ray starts later)."""
    if cfg.run.backend == "ray" and cfg.run.ray_address:
        from fedsim.engine.ray_executor import start_ray

        start_ray(cfg.run.num_cpus, cfg.run.ray_address)


@BACKENDS.register("inline")
def run_inline(cfg: Config, run_config: dict) -> None:
    """Every client in this process, one after another."""
    from clients.app import app as client_app

    _serve_on(InlineExecutor(client_app, run_config, cfg.data.num_clients), cfg, run_config)


@BACKENDS.register("ray")
def run_ray(cfg: Config, run_config: dict) -> None:
    """Clients on a pool of Ray actors."""
    from fedsim.data import load_federated_data  # cached: prepare() loaded it already
    from fedsim.engine.balance import expected_work
    from fedsim.engine.ray_executor import RayExecutor

    key = (cfg.data, cfg.run.seed)
    data = (key, load_federated_data(*key))  # shipped to the actors: they never partition
    work = expected_work(cfg, [len(part) for part in data[1].partitions])
    executor = RayExecutor(run_config, cfg.data.num_clients, cfg.run, data, work)
    _serve_on(executor, cfg, run_config)


@BACKENDS.register("flower")
def run_flower(cfg: Config, run_config: dict) -> None:
    """The reference: Flower's own simulation runtime (Ray backend) runs the same apps."""
    quiet_environment()
    shutdown_pool()  # Flower starts its own Ray; our live actors would hold every CPU
    os.environ[ENV_CONFIG] = str(run_config["config-toml"])
    os.environ[ENV_RUN_DIR] = str(run_config["run-dir"])
    from flwr.simulation import run_simulation

    from clients.app import app as client_app
    from server.app import app as server_app

    resources = {"num_cpus": cfg.run.client_cpus, "num_gpus": cfg.run.client_gpus}
    init_args = {"num_cpus": cfg.run.num_cpus or os.cpu_count(), "include_dashboard": False}
    try:
        run_simulation(
            server_app=server_app,
            client_app=client_app,
            num_supernodes=cfg.data.num_clients,
            backend_config={"client_resources": resources, "init_args": init_args},
        )
    finally:
        for key in (ENV_CONFIG, ENV_RUN_DIR):
            os.environ.pop(key, None)
