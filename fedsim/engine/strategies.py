"""Config -> one of Flower's own Message-API strategies (no re-implementation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flwr.app import MetricRecord, RecordDict
from flwr.serverapp.strategy import FedAdam, FedAvg, FedAvgM, FedProx, FedYogi, Strategy

from fedsim.config import Config
from fedsim.registry import Registry
from fedsim.weighted import weighted_means

StrategyFactory = Callable[[Config, dict[str, Any]], Strategy]
STRATEGIES: Registry[StrategyFactory] = Registry("strategy", "strategy.name")
WEIGHT_KEY = "num-examples"


def average_metrics(records: list[RecordDict], weight_key: str) -> MetricRecord:
    """Flower's metric aggregation hook: example-weighted means (ids and counts skipped)."""
    rows = [dict(next(iter(r.metric_records.values()))) for r in records]
    return MetricRecord(weighted_means(rows, weight_key) or {})


def weight_key(cfg: Config) -> str:
    """The reply metric FedAvg weighs updates by: examples, or 1 per client under user-level
    DP (its noise is calibrated to the unweighted mean; fedsim.privacy.client_mods)."""
    if cfg.privacy.mode == "user" and not cfg.secagg.enabled:
        from fedsim.privacy.client_mods import UNIT_WEIGHT_KEY

        return UNIT_WEIGHT_KEY
    return WEIGHT_KEY


def sampling(cfg: Config) -> dict[str, Any]:
    """Arguments every strategy shares: exact per-round sample sizes, all nodes available."""
    n = cfg.data.num_clients
    train = cfg.strategy.clients_per_round or n
    evaluate = (cfg.strategy.eval_clients_per_round or train) if cfg.strategy.federated_eval else 0
    return {
        "fraction_train": train / n,
        "fraction_evaluate": evaluate / n,
        "min_train_nodes": train,
        "min_evaluate_nodes": evaluate,
        "min_available_nodes": n,
        "weighted_by_key": weight_key(cfg),
        "train_metrics_aggr_fn": average_metrics,
        "evaluate_metrics_aggr_fn": average_metrics,
    }


def server_lr(cfg: Config, default: float) -> float:
    """``strategy.server_lr``, or the strategy's default when it is 0."""
    return cfg.strategy.server_lr or default


@STRATEGIES.register("fedavg")
def _fedavg(cfg: Config, common: dict[str, Any]) -> Strategy:
    return FedAvg(**common)


# FedSGD is FedAvg over exactly one local step per client (validation sets local_steps = 1):
# averaged one-step updates = averaged gradients = distributed SGD.
STRATEGIES.register("fedsgd")(_fedavg)


@STRATEGIES.register("fedprox")
def _fedprox(cfg: Config, common: dict[str, Any]) -> Strategy:
    return FedProx(proximal_mu=cfg.strategy.proximal_mu, **common)


@STRATEGIES.register("fedavgm")
def _fedavgm(cfg: Config, common: dict[str, Any]) -> Strategy:
    return FedAvgM(
        server_learning_rate=server_lr(cfg, 1.0),
        server_momentum=cfg.strategy.server_momentum,
        **common,
    )


def _adaptive(kind: type, cfg: Config, common: dict[str, Any]) -> Strategy:
    s = cfg.strategy
    return kind(
        eta=server_lr(cfg, 0.01),
        eta_l=cfg.client.lr,
        beta_1=s.beta_1,
        beta_2=s.beta_2,
        tau=s.tau,
        **common,
    )


@STRATEGIES.register("fedadam")
def _fedadam(cfg: Config, common: dict[str, Any]) -> Strategy:
    return _adaptive(FedAdam, cfg, common)


@STRATEGIES.register("fedyogi")
def _fedyogi(cfg: Config, common: dict[str, Any]) -> Strategy:
    return _adaptive(FedYogi, cfg, common)


def build_strategy(cfg: Config) -> Strategy:
    """The Flower strategy named by ``strategy.name``, sampling as configured, with client
    updates clipped to ``strategy.clip_norm`` when that is set."""
    from fedsim.engine.robust_strategies import with_update_clipping

    return with_update_clipping(cfg, STRATEGIES.get(cfg.strategy.name)(cfg, sampling(cfg)))


# Modules that register more strategies (they import STRATEGIES above):
# independent: ensemble, oneshot (clients train independently, never averaged in training);
# robust_strategies: fedmedian, fedtrimmedavg, krum, multikrum, bulyan.
from fedsim.engine import independent, robust_strategies  # noqa: E402, F401
