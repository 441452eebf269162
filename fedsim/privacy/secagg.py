"""SecAgg+ rounds on Flower's legacy path, on the same (recording) Grid as every other run.

In flwr 1.42 SecAgg+ exists only as a legacy workflow: `LegacyContext` + `DefaultWorkflow(
fit_workflow=SecAggPlusWorkflow(...))` driving a legacy strategy. `run_secagg` builds that
from the config and logs every round through the session's `central_evaluate`, after the
round's federated evaluation, as the Message-API path does. Clients answer with
`fedsim.engine.client_mods.secagg_mods` (secaggplus_mod over fedsim's own handlers).

User-level DP composes as Flower intends: the legacy `DifferentialPrivacyClientSideFixedClipping`
wrapper (Gaussian noise on the unmasked mean) + `fixedclipping_mod` on the client, inside
the masking (clip, then mask).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, Context, MetricRecord, RecordDict
from flwr.common import Parameters, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.compat.common import recorddict_compat as compat
from flwr.server import ServerConfig
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import (
    DifferentialPrivacyClientSideFixedClipping,
    FedAdam,
    FedAvg,
    FedAvgM,
    FedProx,
    FedYogi,
    Strategy,
)
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key
from flwr.server.workflow.default_workflows import default_evaluate_workflow
from flwr.serverapp import Grid

from fedsim.config import Config
from fedsim.engine.legacy_bridge import NAMES_KEY, ROUND_KEY
from fedsim.engine.recording import RecordingGrid
from fedsim.privacy.secagg_rules import MODULUS_RANGE, sampled_clients
from fedsim.privacy.secagg_strategy import SeededAggregation

CentralEvaluate = Callable[[int, ArrayRecord], MetricRecord]


def max_weight(cfg: Config, partition_sizes: list[int]) -> float:
    """SecAgg+'s max_weight: 1 under user-level DP (every update weighs 1), else
    `secagg.max_weight`, or the largest shard (0 = auto: no weight is ever clipped)."""
    if cfg.privacy.mode == "user":
        return 1.0
    return float(cfg.secagg.max_weight or max(partition_sizes))


def build_workflow(cfg: Config, weight: float) -> SecAggPlusWorkflow:
    """Flower's SecAgg+ fit workflow with the config's protocol parameters."""
    s = cfg.secagg
    return SecAggPlusWorkflow(
        num_shares=s.num_shares,
        reconstruction_threshold=s.reconstruction_threshold,
        max_weight=weight,
        clipping_range=s.clipping_range,
        quantization_range=s.quantization_range,
        modulus_range=MODULUS_RANGE,
        timeout=cfg.run.client_timeout or None,
    )


def _legacy_kwargs(cfg: Config, initial: Parameters, names: list[str]) -> dict[str, Any]:
    """Sampling exactly as the Message-API path, names and round in every instruction."""
    n, train = cfg.data.num_clients, sampled_clients(cfg)
    evaluate = (cfg.strategy.eval_clients_per_round or train) if cfg.strategy.federated_eval else 0

    def instructions(server_round: int) -> dict[str, Any]:
        return {ROUND_KEY: server_round, NAMES_KEY: ",".join(names)}

    return {
        "fraction_fit": train / n,
        "fraction_evaluate": evaluate / n,
        "min_fit_clients": train,
        "min_evaluate_clients": evaluate,
        "min_available_clients": n,
        "on_fit_config_fn": instructions,
        "on_evaluate_config_fn": instructions,
        "initial_parameters": initial,
        "fit_metrics_aggregation_fn": lambda _: {},
        "evaluate_metrics_aggregation_fn": lambda _: {},
    }


def _inner_strategy(cfg: Config, common: dict[str, Any]) -> Strategy:
    s, name = cfg.strategy, cfg.strategy.name
    if name == "fedprox":
        return FedProx(proximal_mu=s.proximal_mu, **common)
    if name == "fedavgm":
        return FedAvgM(server_learning_rate=s.server_lr or 1.0,
                       server_momentum=s.server_momentum, **common)
    if name in ("fedadam", "fedyogi"):
        kind = FedAdam if name == "fedadam" else FedYogi
        return kind(eta=s.server_lr or 0.01, eta_l=cfg.client.lr, beta_1=s.beta_1,
                    beta_2=s.beta_2, tau=s.tau, **common)
    return FedAvg(**common)  # fedavg, fedsgd (validation allows nothing else)


def noise_multiplier(cfg: Config) -> float:
    """User-level DP noise, as the privacy ledger plans it (given, or solved for the budget)."""
    from fedsim.privacy.user import user_level_plan

    return user_level_plan(cfg).noise_multiplier


def legacy_strategy(cfg: Config, initial: Parameters, names: list[str], dtypes: list) -> Strategy:
    """The config's legacy strategy (+ user-level DP wrapper), seeded and dtype-preserving."""
    strategy = _inner_strategy(cfg, _legacy_kwargs(cfg, initial, names))
    if cfg.privacy.mode == "user":
        strategy = DifferentialPrivacyClientSideFixedClipping(
            strategy, noise_multiplier(cfg), cfg.privacy.max_grad_norm, sampled_clients(cfg))
    return SeededAggregation(strategy, cfg.run.seed, dtypes)


def named_arrays(record: ArrayRecord, names: list[str]) -> ArrayRecord:
    """The workflow's unnamed parameter record with the model's tensor names."""
    arrays = parameters_to_ndarrays(compat.arrayrecord_to_parameters(record, keep_input=True))
    return ArrayRecord(OrderedDict(
        (n, torch.from_numpy(np.array(a))) for n, a in zip(names, arrays, strict=True)))


def _evaluate_then_log(names: list[str], central_evaluate: CentralEvaluate) -> Callable:
    """Federated evaluation, then the central one that records the round (Message-API order)."""

    def workflow(grid: Grid, context: Context) -> None:
        default_evaluate_workflow(grid, context)
        server_round = int(context.state.config_records[MAIN_CONFIGS_RECORD][Key.CURRENT_ROUND])
        central_evaluate(server_round,
                         named_arrays(context.state.array_records[MAIN_PARAMS_RECORD], names))

    return workflow


def run_secagg(
    grid: RecordingGrid, cfg: Config, initial: ArrayRecord, central_evaluate: CentralEvaluate,
    partitions: list,
) -> None:
    """All rounds of SecAgg+ training on `grid` (clients hold `partitions`);
    `central_evaluate` evaluates and records each round."""
    weight = max_weight(cfg, [len(p) for p in partitions])
    names = list(initial.keys())
    arrays = [a.numpy() for a in initial.values()]
    central_evaluate(0, initial)
    strategy = legacy_strategy(cfg, ndarrays_to_parameters(arrays), names,
                               [a.dtype for a in arrays])
    base = Context(run_id=grid.run.run_id, node_id=SUPERLINK_NODE_ID, node_config={},
                   state=RecordDict(), run_config={})
    context = LegacyContext(base, config=ServerConfig(num_rounds=cfg.run.rounds),
                            strategy=strategy, client_manager=SimpleClientManager())
    workflow = DefaultWorkflow(fit_workflow=build_workflow(cfg, weight),
                               evaluate_workflow=_evaluate_then_log(names, central_evaluate))
    workflow(grid, context)
